using MedVision.Benchmarks;

// ./build.sh bench runs every benchmark; `--ingest` or `--parse` picks one. `--ingest=ct,mr` runs only those cases.
var all = args.Length == 0 || args.Contains("--all");
var ingest = args.FirstOrDefault(a => a == "--ingest" || a.StartsWith("--ingest=", StringComparison.Ordinal));
if (all || ingest is not null)
{
    var cases = ingest is { } flag && flag.Contains('=') ? flag[(flag.IndexOf('=') + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries) : [];
    await IngestBenchmark.RunAsync(cases);
}
if (all || args.Contains("--decode")) { await DecodeBenchmark.RunAsync(); }
if (all || args.Contains("--alerts")) { await AlertBenchmark.RunAsync(); }
if (all || args.Contains("--export")) { await ExportBenchmark.RunAsync(); }
if (all || args.Contains("--inference")) { await InferenceBenchmark.RunAsync(); }
if (all || args.Contains("--parse-corpus")) { await CorpusParseBenchmark.RunAsync(); }
if (all || args.Contains("--hub"))
{
    var appliances = args.FirstOrDefault(a => a.StartsWith("--hub-appliances=", StringComparison.Ordinal)) is { } n ? int.Parse(n["--hub-appliances=".Length..], System.Globalization.CultureInfo.InvariantCulture) : 1000;
    await HubBenchmark.RunAsync(appliances);
}
if (all || args.Contains("--parse"))
{
    ParseBenchmark.Run(args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) || a.StartsWith("--filter", StringComparison.Ordinal)).ToArray());
}
