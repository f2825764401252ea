using MedVision.Edge.Storage;

namespace MedVision.Edge.Pipeline;

/// <summary>
/// Told about an instance's findings once they are durably stored. Register with
/// <c>services.AddSingleton&lt;IFindingsListener, ...&gt;()</c>; the pipeline awaits each listener in turn, so a listener
/// must be quick (record and hand work off) and must not depend on the others. A listener that throws is logged and
/// does not change the instance's state: the findings are already stored.
/// </summary>
public interface IFindingsListener
{
    Task OnFindingsAsync(IReadOnlyList<FindingRecord> findings, PendingInstance instance, CancellationToken cancellationToken);
}
