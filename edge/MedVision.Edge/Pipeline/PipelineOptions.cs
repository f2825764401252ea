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
}
