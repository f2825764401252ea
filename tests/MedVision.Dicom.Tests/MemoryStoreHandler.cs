using System.Collections.Concurrent;
using MedVision.Dicom.Network;

namespace MedVision.Dicom.Tests;

/// <summary>Keeps every received data set in memory with its transfer syntax, for tests that inspect what arrived.</summary>
internal sealed class MemoryStoreHandler : ICStoreHandler
{
    public ConcurrentDictionary<string, (byte[] Bytes, DicomTransferSyntax Syntax)> Received { get; } = new();

    public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ICStoreTarget>(new Target(this, request));

    private sealed class Target(MemoryStoreHandler owner, CStoreRequest request) : ICStoreTarget
    {
        private readonly MemoryStream _bytes = new();

        public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken)
        {
            _bytes.Write(fragment.Span);
            return ValueTask.CompletedTask;
        }

        public ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
        {
            owner.Received[request.SopInstanceUid] = (_bytes.ToArray(), request.TransferSyntax);
            return ValueTask.FromResult(DicomStatus.Success);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
