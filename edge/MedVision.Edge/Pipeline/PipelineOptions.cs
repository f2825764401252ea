namespace MedVision.Edge.Pipeline;

/// <summary>Section MedVision:Pipeline.</summary>
public sealed class PipelineOptions
{
    public const string Section = "MedVision:Pipeline";

    /// <summary>How often the pipeline looks for work when nothing wakes it (also catches work left by a restart).</summary>
    public int PollSeconds { get; set; } = 5;

    /// <summary>A study is complete when no instance has arrived for this long (PS3.4 gives no end-of-study signal).</summary>
    public double StudyQuietSeconds { get; set; } = 5;

    /// <summary>Instances taken from the queue at a time.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>
    /// Most images one model runs in one session run (micro-batch). Batches form only from instances already queued, so an idle
    /// appliance runs each image at once and a busy one gets the throughput of batching; 1 turns batching off.
    /// </summary>
    public int MaxInferenceBatch { get; set; } = 8;
}
