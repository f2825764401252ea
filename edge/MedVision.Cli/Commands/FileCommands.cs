using System.CommandLine;
using System.Globalization;
using MedVision.Dicom;
using MedVision.Dicom.Codecs;
using MedVision.Dicom.Deidentification;
using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Dicom.Json;

namespace MedVision.Cli.Commands;

/// <summary>
/// dump, json, deid and decode: the file side of the DICOM library. Bad input is one line on stderr and exit code 1,
/// never a stack trace; usage errors are System.CommandLine's (exit code 1 too).
/// </summary>
public static class FileCommands
{
    public static void AddTo(RootCommand root)
    {
        root.Subcommands.Add(Dump());
        root.Subcommands.Add(Json());
        root.Subcommands.Add(Deidentify());
        root.Subcommands.Add(Decode());
    }

    private static Argument<string> InputFile() => new("file") { Description = "DICOM file (Part 10, or a bare dataset)" };

    private static Command Dump()
    {
        var file = InputFile();
        var command = new Command("dump", "List a file's attributes, as dcmdump does") { file };
        command.SetAction(parse => Run(parse.GetValue(file)!, path =>
        {
            var dicom = DicomFile.Open(path);
            new DicomDumper().Dump(Console.Out, dicom);
            return 0;
        }));
        return command;
    }

    private static Command Json()
    {
        var file = InputFile();
        var compact = new Option<bool>("--compact") { Description = "No indentation" };
        var command = new Command("json", "Write a file's data set as DICOM JSON (PS3.18 Annex F), binary values as InlineBinary") { file, compact };
        command.SetAction(parse => Run(parse.GetValue(file)!, path =>
        {
            var dicom = DicomFile.Open(path);
            using var stdout = Console.OpenStandardOutput();
            DicomJson.Serialize(stdout, dicom.Dataset, new DicomJsonOptions { WriteIndented = !parse.GetValue(compact) });
            stdout.Write("\n"u8);
            return 0;
        }));
        return command;
    }

    private static Command Decode()
    {
        var file = InputFile();
        var output = new Argument<string>("output") { Description = "PNG file to write" };
        var frame = new Option<int>("--frame") { Description = "Frame number, from 1 (as dcmtk's dcm2pnm +F)", DefaultValueFactory = _ => 1 };
        var command = new Command("decode", "Decode a frame's pixels (any supported transfer syntax) and write it as PNG") { file, output, frame };
        command.SetAction(parse => Run(parse.GetValue(file)!, path =>
        {
            var image = DicomImage.Open(DicomFile.Open(path));
            var number = parse.GetValue(frame);
            if (number < 1 || number > image.NumberOfFrames)
            {
                return Fail(path, $"frame {number} does not exist; the image has {image.NumberOfFrames} frame(s)");
            }
            var png = image.RenderPng(number - 1);
            File.WriteAllBytes(parse.GetValue(output)!, png);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{parse.GetValue(output)}: frame {number} of {image.NumberOfFrames}, {image.Columns}x{image.Rows} {image.PhotometricInterpretation}"));
            return 0;
        }));
        return command;
    }

    private static Command Deidentify()
    {
        var input = new Argument<string>("input") { Description = "DICOM file, or a folder (searched recursively)" };
        var output = new Argument<string>("output") { Description = "Output file, or folder for a folder input (same relative paths)" };
        var retainDates = new Option<bool>("--retain-dates") { Description = "Retain Longitudinal Temporal Information, Full Dates Option" };
        var shiftDates = new Option<bool>("--shift-dates") { Description = "Modified Dates Option: shift dates by a keyed per-patient offset" };
        var cleanDescriptors = new Option<bool>("--clean-descriptors") { Description = "Clean Descriptors Option: keep descriptions, masking identifying values" };
        var retainDevice = new Option<bool>("--retain-device") { Description = "Retain Device Identity Option" };
        var keyFile = new Option<string?>("--key-file") { Description = "Site key (≥16 bytes): same UIDs and pseudonyms in every run; without it they are random per run" };
        var safePrivate = new Option<string[]>("--safe-private") { Description = "Private creator whose block is kept (repeatable)", AllowMultipleArgumentsPerToken = false };
        var flagBurnedIn = new Option<bool>("--flag-burned-in") { Description = "De-identify Burned In Annotation = YES instances (flagged) instead of refusing them" };
        var report = new Option<string?>("--report") { Description = "Write what was removed or replaced, per attribute, to this TSV file" };
        var command = new Command("deid", "De-identify with the PS3.15 Basic Application Level Confidentiality Profile")
        {
            input, output, retainDates, shiftDates, cleanDescriptors, retainDevice, keyFile, safePrivate, flagBurnedIn, report,
        };
        command.SetAction(parse =>
        {
            var options = new DeidentificationOptions
            {
                RetainLongitudinalFullDates = parse.GetValue(retainDates),
                ShiftDates = parse.GetValue(shiftDates),
                CleanDescriptors = parse.GetValue(cleanDescriptors),
                RetainDeviceIdentity = parse.GetValue(retainDevice),
                SafePrivateCreators = [.. parse.GetValue(safePrivate) ?? []],
                BurnedInAnnotation = parse.GetValue(flagBurnedIn) ? BurnedInAnnotationPolicy.Flag : BurnedInAnnotationPolicy.Refuse,
                KeyFile = parse.GetValue(keyFile),
            };
            var errors = options.Validate();
            if (errors.Count > 0)
            {
                Console.Error.WriteLine($"error: {string.Join(" ", errors)}");
                return 1;
            }
            DeidentificationKey key;
            try
            {
                key = options.KeyFile is { } path ? DeidentificationKey.FromFile(path) : DeidentificationKey.CreateRandom();
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: key file {options.KeyFile}: {ex.Message}");
                return 1;
            }
            return DeidentifyAll(new Deidentifier(options, key), parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(report), options.KeyFile is null);
        });
        return command;
    }

    private static int DeidentifyAll(Deidentifier deidentifier, string input, string output, string? reportPath, bool randomKey)
    {
        List<(string Source, string Target)> jobs;
        if (Directory.Exists(input))
        {
            jobs = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .Select(f => (f, Path.Combine(output, Path.GetRelativePath(input, f)))).ToList();
        }
        else if (File.Exists(input))
        {
            jobs = [(input, Directory.Exists(output) ? Path.Combine(output, Path.GetFileName(input)) : output)];
        }
        else
        {
            Console.Error.WriteLine($"error: {input}: no such file or folder");
            return 1;
        }
        if (jobs.Count == 0)
        {
            Console.Error.WriteLine($"error: {input}: no files");
            return 1;
        }
        if (randomKey)
        {
            Console.Error.WriteLine("note: no --key-file; replacement UIDs and pseudonyms are consistent within this run only");
        }
        using var report = reportPath is null ? null : new StreamWriter(reportPath);
        report?.WriteLine("file\tpath\ttag\tattribute\tcode\taction");
        var failed = 0;
        foreach (var (source, target) in jobs)
        {
            try
            {
                var result = deidentifier.Deidentify(DicomFile.Open(source));
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
                result.File.Save(target);
                foreach (var entry in result.Report.Entries)
                {
                    report?.WriteLine($"{target}\t{entry.Path}\t{entry.Tag}\t{entry.Name}\t{entry.Code}\t{entry.Action}");
                }
                foreach (var warning in result.Report.Warnings)
                {
                    Console.Error.WriteLine($"warning: {source}: {warning}");
                }
                Console.WriteLine($"{source} -> {target}: {result.Report.Entries.Count} attributes removed, replaced or added");
            }
            catch (Exception ex) when (ex is DicomFormatException or DeidentificationRefusedException or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                Console.Error.WriteLine($"error: {source}: {ex.Message}");
                failed++;
            }
        }
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Runs a command on one input file, turning the errors bad input can cause into one line and exit code 1.</summary>
    private static int Run(string path, Func<string, int> action)
    {
        try
        {
            if (!File.Exists(path))
            {
                return Fail(path, "no such file");
            }
            return action(path);
        }
        catch (Exception ex) when (ex is DicomFormatException or DicomCodecException or IOException or UnauthorizedAccessException
                                       or InvalidOperationException or NotSupportedException or ArgumentOutOfRangeException)
        {
            return Fail(path, ex.Message);
        }
    }

    private static int Fail(string path, string message)
    {
        Console.Error.WriteLine($"error: {path}: {message}");
        return 1;
    }
}
