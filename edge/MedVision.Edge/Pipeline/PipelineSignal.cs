namespace MedVision.Edge.Pipeline;

/// <summary>Wakes the inference pipeline when ingest has recorded new instances.</summary>
public sealed class PipelineSignal : WakeSignal;
