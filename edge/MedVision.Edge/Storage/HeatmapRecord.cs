namespace MedVision.Edge.Storage;

/// <summary>
/// A heat map kept with its finding (row in <c>heatmaps</c>, written in the finding's transaction): the model-resolution class
/// activation map (<see cref="Cam"/>, <see cref="CamWidth"/> × <see cref="CamHeight"/>, row-major 0..1) and where its rendering at the
/// source geometry (<see cref="Columns"/> × <see cref="Rows"/>) goes. The rendering (float map and overlay PNG) is made when outputs are
/// produced, off the path from image to finding. Paths are relative to the storage root. <see cref="ParametricMapUid"/> is reserved
/// when the map is recorded, so every output that references the heat-map object names the same instance.
/// </summary>
public sealed record HeatmapRecord(
    string ParametricMapUid, int Columns, int Rows, string FloatMapPath, string OverlayPngPath, int CamWidth, int CamHeight, float[] Cam);

/// <summary>The <c>heatmaps.cam</c> column: float32 little-endian, whatever the host's byte order.</summary>
public static class HeatmapRecordEncoding
{
    public static byte[] ToBytes(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }
        return bytes;
    }

    public static float[] FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException($"A float32 map cannot be {bytes.Length} bytes long.");
        }
        var values = new float[bytes.Length / sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * sizeof(float))..]);
        }
        return values;
    }
}
