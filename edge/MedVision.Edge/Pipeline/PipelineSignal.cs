using System.Threading.Channels;

namespace MedVision.Edge.Pipeline;

/// <summary>
/// Wakes the pipeline when ingest has recorded new work. The work itself lives in SQLite, so a full signal drops
/// nothing: one pending wake-up is enough for any number of new instances.
/// </summary>
public sealed class PipelineSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    /// <summary>Waits for a notification or the timeout, whichever is first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Periodic poll: also picks up work recorded before a restart.
        }
    }
}
