namespace MedVision.Edge.Outputs.Heatmaps;

/// <summary>Maps a model-resolution class activation map back onto the source image's pixel grid.</summary>
public static class HeatmapResampler
{
    /// <summary>
    /// Bilinear upsampling with pixel centres aligned (the <c>align_corners=False</c> convention of PyTorch and OpenCV): output
    /// pixel x samples the map at (x + 0.5)·w/W − 0.5, clamped to the map's edge cells. The preprocessing resized the whole image
    /// to the model input, so cell (i, j) of the map covers the same fraction of the source as of the model input.
    /// </summary>
    public static float[] Bilinear(ReadOnlySpan<float> map, int mapWidth, int mapHeight, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mapWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mapHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (map.Length != mapWidth * mapHeight)
        {
            throw new ArgumentException($"Map holds {map.Length} values, expected {mapWidth}x{mapHeight}.", nameof(map));
        }

        // Column weights are the same for every row: compute them once.
        var x0 = new int[width];
        var x1 = new int[width];
        var fx = new float[width];
        for (var x = 0; x < width; x++)
        {
            Axis(x, width, mapWidth, out x0[x], out x1[x], out fx[x]);
        }
        var output = new float[checked(width * height)];
        for (var y = 0; y < height; y++)
        {
            Axis(y, height, mapHeight, out var y0, out var y1, out var fy);
            var top = map.Slice(y0 * mapWidth, mapWidth);
            var bottom = map.Slice(y1 * mapWidth, mapWidth);
            var row = output.AsSpan(y * width, width);
            for (var x = 0; x < width; x++)
            {
                var t = top[x0[x]] + (top[x1[x]] - top[x0[x]]) * fx[x];
                var b = bottom[x0[x]] + (bottom[x1[x]] - bottom[x0[x]]) * fx[x];
                row[x] = t + (b - t) * fy;
            }
        }
        return output;
    }

    private static void Axis(int index, int outSize, int inSize, out int i0, out int i1, out float fraction)
    {
        var source = (index + 0.5) * inSize / outSize - 0.5;
        if (source <= 0)
        {
            i0 = i1 = 0;
            fraction = 0;
            return;
        }
        i0 = (int)Math.Floor(source);
        if (i0 >= inSize - 1)
        {
            i0 = i1 = inSize - 1;
            fraction = 0;
            return;
        }
        i1 = i0 + 1;
        fraction = (float)(source - i0);
    }
}
