using System.Diagnostics;
using System.Text.RegularExpressions;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// Durable before acknowledge, proven the hard way: the appliance process is SIGKILLed in the middle of a 500-instance
/// storescu send. Every instance storescu saw a success response for must survive and be processed exactly once.
/// </summary>
public sealed partial class CrashRecoveryTests
{
    private const int Instances = 500;

    [Fact]
    public async Task Sigkill_mid_send_loses_no_acknowledged_instance_and_processes_none_twice()
    {
        using var data = new TempDirectory("medvision-crash");
        using var source = new TempDirectory("medvision-crash-src");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var study = ChestXrayDicom.NewUid();
        for (var i = 0; i < Instances; i++)
        {
            ChestXrayDicom.Create(source.Path, images.Image(i), scale: 2, studyUid: study);
        }

        var acknowledged = new List<string>();
        var findingsBeforeKill = new Dictionary<string, string>();
        await using (var first = await ApplianceProcess.StartAsync(data.Path))
        {
            var storescu = StartStorescu(first.DicomPort, source.Path);
            string? current = null;
            string? line;
            while ((line = await storescu.StandardError.ReadLineAsync()) is not null)
            {
                if (SendingFile().Match(line) is { Success: true } sending)
                {
                    current = Path.GetFileNameWithoutExtension(sending.Groups[1].Value);
                }
                else if (line.Contains("Received Store Response (Success)", StringComparison.Ordinal) && current is not null)
                {
                    acknowledged.Add(current);
                    if (acknowledged.Count == 150)
                    {
                        // Snapshot what was already processed, then pull the plug mid-stream.
                        foreach (var f in (await first.GetJsonAsync("/api/findings?limit=1000")).EnumerateArray())
                        {
                            findingsBeforeKill[f.GetProperty("sopInstanceUid").GetString()!] = f.GetProperty("createdUtc").GetString()!;
                        }
                        first.Kill();
                    }
                }
            }
            await storescu.WaitForExitAsync();
        }
        Assert.InRange(acknowledged.Count, 150, Instances - 1);

        await using var second = await ApplianceProcess.StartAsync(data.Path);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        Dictionary<string, List<string>> findings;
        do
        {
            findings = (await second.GetJsonAsync("/api/findings?limit=1000")).EnumerateArray()
                .GroupBy(f => f.GetProperty("sopInstanceUid").GetString()!)
                .ToDictionary(g => g.Key, g => g.Select(f => f.GetProperty("createdUtc").GetString()!).ToList());
            if (acknowledged.All(findings.ContainsKey))
            {
                break;
            }
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);

        var missing = acknowledged.Where(uid => !findings.ContainsKey(uid)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged instances have no finding after restart, e.g. {missing.FirstOrDefault()}");
        Assert.All(acknowledged, uid => Assert.Single(findings[uid]));
        // Processed before the kill means not processed again after it.
        foreach (var (uid, created) in findingsBeforeKill)
        {
            Assert.Equal(created, findings[uid].Single());
        }
        var studies = await second.GetJsonAsync("/api/studies");
        var count = studies.EnumerateArray().Single().GetProperty("instanceCount").GetInt32();
        Assert.InRange(count, acknowledged.Count, acknowledged.Count + 1);
        var spooled = MedVision.Edge.Tests.Ingest.SpoolFiles.BySopInstance(data.Path);
        foreach (var uid in acknowledged)
        {
            Assert.Single(spooled[uid]);
        }
    }

    private static Process StartStorescu(int port, string folder)
    {
        var start = new ProcessStartInfo(ExternalTool.Require("storescu"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment = { ["TCP_NODELAY"] = "1" },
        };
        foreach (var arg in new[] { "-v", "-aec", "MEDVISION", "+sd", "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), folder })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        // dcmtk logs to stderr, which the test reads line by line; stdout is drained.
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    [GeneratedRegex(@"Sending file: (.+\.dcm)")]
    private static partial Regex SendingFile();
}
