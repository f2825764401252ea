using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Edge.Api;
using MedVision.Edge.Ingest;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Commitment;

/// <summary>
/// Storage Commitment Push Model SCP (PS3.4 J). The request is recorded in SQLite before the N-ACTION response; the
/// N-EVENT-REPORT then goes to the modality on a new association (its address from MedVision:Dicom:Peers), retried
/// with backoff until it is delivered, so a modality learns its images are safe even across our restarts.
/// </summary>
public sealed partial class StorageCommitmentService(
    StorageCommitmentStore store,
    IOptions<DicomOptions> options,
    TimeProvider clock,
    ILogger<StorageCommitmentService> logger) : BackgroundService, IStorageCommitmentHandler, IHealthContributor
{
    private const int MaxAttempts = 10;
    private readonly WakeSignal _wake = new();
    private IReadOnlyDictionary<string, long> _counts = new Dictionary<string, long>();

    public string Name => "storageCommitment";

    public bool Healthy => _counts.GetValueOrDefault("failed") == 0;

    public object Describe() => _counts;

    public async ValueTask<DicomStatus> OnCommitmentRequestedAsync(AssociationInfo association, string transactionUid, IReadOnlyList<SopReference> references, CancellationToken cancellationToken)
    {
        await store.AddAsync(transactionUid, association.CallingAeTitle, references, cancellationToken).ConfigureAwait(false);
        LogRequested(transactionUid, association.CallingAeTitle, references.Count);
        _wake.Notify();
        return DicomStatus.Success;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var request in await store.GetDueAsync(stoppingToken).ConfigureAwait(false))
                {
                    await ReportAsync(request, stoppingToken).ConfigureAwait(false);
                }
                _counts = await store.CountsAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogLoopFailed(ex);
            }
            await _wake.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(CommitmentRequest request, CancellationToken cancellationToken)
    {
        var held = await store.HeldAsync(request.References, cancellationToken).ConfigureAwait(false);
        var (eventType, report) = StorageCommitment.CreateReport(
            request.TransactionUid,
            request.References.Where(r => held.Contains(r.SopInstanceUid)),
            request.References.Where(r => !held.Contains(r.SopInstanceUid)).Select(r => (r, StorageCommitment.NoSuchObjectInstance)));
        if (!options.Value.Peers.TryGetValue(request.CallingAe, out var peer))
        {
            await store.MarkAttemptFailedAsync(request.TransactionUid, $"no address configured for AE '{request.CallingAe}' (MedVision:Dicom:Peers)", clock.GetUtcNow(), giveUp: true, cancellationToken).ConfigureAwait(false);
            LogNoPeer(request.TransactionUid, request.CallingAe);
            return;
        }
        // A peer that accepts the connection and then says nothing would hold this loop, and every later report, for good:
        // the whole exchange gets the ARTIM time, and running out of it is a failed attempt like any other.
        var limit = TimeSpan.FromSeconds(options.Value.ArtimTimeoutSeconds);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(limit);
        try
        {
            await using var client = await DicomClient.ConnectAsync(peer.Host, peer.Port, options.Value.AeTitle, peer.AeTitle ?? request.CallingAe,
                [new PresentationContextProposal(1, StorageCommitment.SopClassUid, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid])],
                attempt.Token).ConfigureAwait(false);
            var status = await client.EventReportAsync(StorageCommitment.SopClassUid, StorageCommitment.SopInstanceUid, eventType, report, attempt.Token).ConfigureAwait(false);
            await client.ReleaseAsync(attempt.Token).ConfigureAwait(false);
            if (status.IsFailure)
            {
                throw new IOException($"peer answered the N-EVENT-REPORT with {status}");
            }
            await store.MarkReportedAsync(request.TransactionUid, eventType, cancellationToken).ConfigureAwait(false);
            LogReported(request.TransactionUid, request.CallingAe, held.Count, request.References.Count - held.Count);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or DicomFormatException or DicomAssociationRejectedException or InvalidOperationException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var reason = ex is OperationCanceledException ? $"no answer from the peer within {limit.TotalSeconds:0} s (MedVision:Dicom:ArtimTimeoutSeconds)" : ex.Message;
            var attempts = request.Attempts + 1;
            var giveUp = attempts >= MaxAttempts;
            var delay = TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, attempts)));
            await store.MarkAttemptFailedAsync(request.TransactionUid, reason, clock.GetUtcNow() + delay, giveUp, cancellationToken).ConfigureAwait(false);
            LogReportFailed(request.TransactionUid, request.CallingAe, attempts, reason, giveUp);
        }
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Storage commitment {TransactionUid} from {CallingAe}: {Count} instance(s)")]
    private partial void LogRequested(string transactionUid, string callingAe, int count);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Storage commitment {TransactionUid} reported to {CallingAe}: {Committed} committed, {Failed} failed")]
    private partial void LogReported(string transactionUid, string callingAe, int committed, int failed);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Storage commitment report {TransactionUid} to {CallingAe} failed (attempt {Attempt}): {Reason}; given up: {GivenUp}")]
    private partial void LogReportFailed(string transactionUid, string callingAe, int attempt, string reason, bool givenUp);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Error, Message = "Storage commitment {TransactionUid}: no address for AE {CallingAe} in MedVision:Dicom:Peers; the report cannot be sent")]
    private partial void LogNoPeer(string transactionUid, string callingAe);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Error, Message = "Storage commitment loop failed; retrying")]
    private partial void LogLoopFailed(Exception exception);
}
