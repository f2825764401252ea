using System.Net;

namespace MedVision.Dicom.Network;

/// <summary>What the SCP knows about a peer once its association is accepted.</summary>
public sealed record AssociationInfo(string CallingAeTitle, string CalledAeTitle, IPEndPoint? RemoteEndPoint, uint PeerMaxPduLength, string? PeerImplementationClassUid, string? PeerImplementationVersionName);

/// <summary>Decides whether an association may start; the first reason to refuse wins.</summary>
public interface IAssociationPolicy
{
    /// <summary>Null to accept, or a reason to reject (logged and sent as an A-ASSOCIATE-RJ).</summary>
    AssociationRejection? Evaluate(AssociateRequest request, IPEndPoint? remote);
}

/// <summary>Reject parameters (PS3.8 Table 9-21): result 1 permanent / 2 transient, source, reason, and why for the log.</summary>
public sealed record AssociationRejection(byte Result, byte Source, byte Reason, string Why)
{
    public static AssociationRejection CalledAeNotRecognized(string why) => new(1, 1, 7, why);
    public static AssociationRejection CallingAeNotRecognized(string why) => new(1, 1, 3, why);
    public static AssociationRejection ApplicationContextNotSupported(string why) => new(1, 1, 2, why);
    public static AssociationRejection LocalLimitExceeded(string why) => new(2, 3, 2, why);
    public static AssociationRejection NoReasonTransient(string why) => new(2, 1, 1, why);
}

public sealed record CStoreRequest(
    AssociationInfo Association,
    byte PresentationContextId,
    ushort MessageId,
    string SopClassUid,
    string SopInstanceUid,
    DicomTransferSyntax TransferSyntax,
    ushort Priority,
    string? MoveOriginatorAeTitle);

/// <summary>
/// Receives C-STORE requests. The data set is streamed into the target fragment by fragment as PDVs arrive, so the
/// instance is never held whole in memory and no temporary file is needed.
/// </summary>
public interface ICStoreHandler
{
    /// <summary>
    /// Called when a C-STORE command arrives, before its data set. Return a target to receive it; a target that
    /// refuses (e.g. disk full) still receives the bytes and answers with its failure status from CompleteAsync.
    /// </summary>
    ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken);
}

public interface ICStoreTarget : IAsyncDisposable
{
    /// <summary>The next fragment of the data set. Its memory is reused once the call completes: copy what you keep.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken);

    /// <summary>All fragments received. Returns the status to send; it must be Success only once the instance is durable.</summary>
    ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>Answers C-ECHO; the default says Success whenever the service is running.</summary>
public interface ICEchoHandler
{
    ValueTask<DicomStatus> EchoAsync(AssociationInfo association, CancellationToken cancellationToken);
}

public sealed class AlwaysSuccessfulEcho : ICEchoHandler
{
    public ValueTask<DicomStatus> EchoAsync(AssociationInfo association, CancellationToken cancellationToken) =>
        ValueTask.FromResult(DicomStatus.Success);
}

/// <summary>Swallows a data set that will not be kept, then answers with a fixed failure status.</summary>
public sealed class RefusingStoreTarget(DicomStatus status) : ICStoreTarget
{
    public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken) => ValueTask.FromResult(status);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
