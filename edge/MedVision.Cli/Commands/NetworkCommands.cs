using System.CommandLine;
using System.Globalization;
using MedVision.Dicom;
using MedVision.Dicom.Network;

namespace MedVision.Cli.Commands;

/// <summary>echo, send, find and move: the SCU side of the DICOM library, usable in place of dcmtk on the appliance.</summary>
public static class NetworkCommands
{
    private const string Verification = "1.2.840.10008.1.1";
    private const string StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
    private const string StudyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";

    private static readonly Argument<string> Host = new("host") { Description = "Peer host name or address" };
    private static readonly Argument<int> Port = new("port") { Description = "Peer DICOM port" };
    private static readonly Option<string> CalledAe = new("--called-ae", "-aec") { Description = "Peer AE title", DefaultValueFactory = _ => "ANY-SCP" };
    private static readonly Option<string> CallingAe = new("--calling-ae", "-aet") { Description = "Our AE title", DefaultValueFactory = _ => "MEDVISION" };
    private static readonly Option<int> Timeout = new("--timeout") { Description = "Seconds to wait for the peer", DefaultValueFactory = _ => 60 };

    public static void AddTo(RootCommand root)
    {
        root.Subcommands.Add(Echo());
        root.Subcommands.Add(Send());
        root.Subcommands.Add(Find());
        root.Subcommands.Add(Move());
    }

    private static Command Echo()
    {
        var command = new Command("echo", "Verify a DICOM peer with C-ECHO") { Host, Port, CalledAe, CallingAe, Timeout };
        command.SetAction((parse, ct) => RunAsync(parse, ct, async (client, token) =>
        {
            var status = await client.EchoAsync(token);
            Console.WriteLine($"C-ECHO: {status}");
            return status.IsSuccess ? 0 : 1;
        }, [new PresentationContextProposal(1, Verification, [DicomTransferSyntax.ImplicitVRLittleEndian.Uid])]));
        return command;
    }

    private static Command Send()
    {
        var paths = new Argument<string[]>("paths") { Description = "DICOM files or folders (searched recursively)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("send", "Send DICOM files with C-STORE") { Host, Port, paths, CalledAe, CallingAe, Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var files = new List<DicomFile>();
            var errors = 0;
            foreach (var path in parse.GetValue(paths)!.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]))
            {
                try
                {
                    files.Add(DicomFile.Open(path));
                }
                catch (Exception ex) when (ex is DicomFormatException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"{path}: not sent: {ex.Message}");
                    errors++;
                }
            }
            if (files.Count == 0)
            {
                Console.Error.WriteLine("error: no DICOM file to send");
                return 2;
            }
            // One context per SOP class and syntax; uncompressed data may also go as explicit or implicit little endian.
            var proposals = files
                .Select(f => (SopClass: f.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? string.Empty, f.TransferSyntax))
                .Distinct()
                .Select((p, i) => new PresentationContextProposal((byte)(2 * i + 1), p.SopClass,
                    p.TransferSyntax.IsEncapsulated
                        ? [p.TransferSyntax.Uid]
                        : new[] { p.TransferSyntax.Uid, DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid }.Distinct().ToArray()))
                .ToList();
            if (proposals.Count > 128)
            {
                Console.Error.WriteLine($"error: {proposals.Count} SOP class/syntax combinations exceed one association's 128 presentation contexts");
                return 2;
            }
            return await RunAsync(parse, ct, async (client, token) =>
            {
                foreach (var file in files)
                {
                    DicomStatus status;
                    try
                    {
                        status = await client.StoreAsync(file, token);
                    }
                    catch (InvalidOperationException ex)
                    {
                        Console.Error.WriteLine($"{file.Path}: not sent: {ex.Message}");
                        errors++;
                        continue;
                    }
                    Console.WriteLine($"{file.Path}: {status}");
                    if (status.IsFailure)
                    {
                        errors++;
                    }
                }
                return errors == 0 ? 0 : 1;
            }, proposals);
        });
        return command;
    }

    private static Command Find()
    {
        var patientId = new Option<string?>("--patient-id") { Description = "Patient ID to match" };
        var studyUid = new Option<string?>("--study") { Description = "Study Instance UID to match" };
        var accession = new Option<string?>("--accession") { Description = "Accession number to match" };
        var command = new Command("find", "Query a PACS for studies (Study Root C-FIND)") { Host, Port, patientId, studyUid, accession, CalledAe, CallingAe, Timeout };
        command.SetAction((parse, ct) => RunAsync(parse, ct, async (client, token) =>
        {
            var query = new DicomDataset()
                .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
                .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, string.Empty)
                .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, parse.GetValue(accession) ?? string.Empty)
                .AddOrUpdate(DicomTags.ModalitiesInStudy, DicomVR.CS, string.Empty)
                .AddOrUpdate(DicomTags.PatientName, DicomVR.PN, string.Empty)
                .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, parse.GetValue(patientId) ?? string.Empty)
                .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, parse.GetValue(studyUid) ?? string.Empty)
                .AddOrUpdate(DicomTags.StudyDescription, DicomVR.LO, string.Empty);
            var (matches, status) = await client.FindAsync(StudyRootFind, query, token);
            foreach (var match in matches)
            {
                Console.WriteLine(string.Join('\t',
                    match.GetStringOrDefault(DicomTags.StudyInstanceUID), match.GetStringOrDefault(DicomTags.StudyDate),
                    match.GetStringOrDefault(DicomTags.ModalitiesInStudy), match.GetStringOrDefault(DicomTags.PatientID),
                    match.GetStringOrDefault(DicomTags.AccessionNumber), match.GetStringOrDefault(DicomTags.StudyDescription)));
            }
            Console.Error.WriteLine($"C-FIND: {matches.Count} match(es), {status}");
            return status.IsSuccess ? 0 : 1;
        }, [new PresentationContextProposal(1, StudyRootFind, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid])]));
        return command;
    }

    private static Command Move()
    {
        var destination = new Option<string>("--destination", "-aem") { Description = "AE title the PACS sends the study to", Required = true };
        var studyUid = new Option<string>("--study") { Description = "Study Instance UID to retrieve", Required = true };
        var command = new Command("move", "Ask a PACS to send a study to an AE (Study Root C-MOVE)") { Host, Port, destination, studyUid, CalledAe, CallingAe, Timeout };
        command.SetAction((parse, ct) => RunAsync(parse, ct, async (client, token) =>
        {
            var result = await client.MoveAsync(StudyRootMove, parse.GetValue(destination)!, new DicomDataset()
                .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
                .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, parse.GetValue(studyUid)!), token);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"C-MOVE: {result.Status}; completed {result.Completed}, failed {result.Failed}, warnings {result.Warnings}"));
            return result.Status.IsSuccess && result.Failed == 0 ? 0 : 1;
        }, [new PresentationContextProposal(1, StudyRootMove, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid])]));
        return command;
    }

    /// <summary>Associates, runs the operation, releases; network and protocol failures become a one-line error and exit code 2.</summary>
    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken, Func<DicomClient, CancellationToken, Task<int>> operation, IReadOnlyList<PresentationContextProposal> contexts)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(Timeout)));
        var host = parse.GetValue(Host)!;
        var port = parse.GetValue(Port);
        try
        {
            await using var client = await DicomClient.ConnectAsync(host, port, parse.GetValue(CallingAe)!, parse.GetValue(CalledAe)!, contexts, timeout.Token);
            var exitCode = await operation(client, timeout.Token);
            await client.ReleaseAsync(timeout.Token);
            return exitCode;
        }
        catch (DicomAssociationRejectedException ex)
        {
            Console.Error.WriteLine($"error: {host}:{port} rejected the association: {ex.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine($"error: {host}:{port} did not answer within {parse.GetValue(Timeout)} s");
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or DicomFormatException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {host}:{port}: {ex.Message}");
        }
        return 2;
    }
}
