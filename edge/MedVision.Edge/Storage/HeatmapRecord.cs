namespace MedVision.Edge.Storage;

/// <summary>
/// A heat map kept with its finding (row in <c>heatmaps</c>, written in the finding's transaction). Paths are relative to the
/// storage root, so moving the root keeps them valid. <see cref="ParametricMapUid"/> is reserved when the map is made, so every
/// output that references the heat-map object names the same instance.
/// </summary>
public sealed record HeatmapRecord(string ParametricMapUid, int Columns, int Rows, string FloatMapPath, string OverlayPngPath);
