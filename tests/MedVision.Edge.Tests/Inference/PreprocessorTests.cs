using MedVision.Edge.Inference;

namespace MedVision.Edge.Tests.Inference;

public sealed class PreprocessorTests
{
    private static readonly PreprocessingSpec Spec28 = new(
        Photometric.Monochrome2, new ResizeSpec(28, 28, "area"), "minmax", new NormalizeSpec([0.5f], [0.5f]));

    [Fact]
    public void Area_resize_5x5_to_2x2_uses_overlapping_windows()
    {
        // v = 5r + c. Output windows (torch adaptive pooling): rows/cols [0, 3) and [2, 5).
        var source = Enumerable.Range(0, 25).Select(v => (float)v).ToArray();

        var result = Preprocessor.ResizeArea(source, 5, 5, 2, 2);

        Assert.Equal([6f, 8f, 16f, 18f], result);
    }

    [Fact]
    public void Area_resize_3x3_to_2x2_averages_2x2_boxes()
    {
        // Windows [0, 2) and [1, 3) on both axes.
        float[] source = [1, 2, 3, 4, 5, 6, 7, 8, 9];

        var result = Preprocessor.ResizeArea(source, 3, 3, 2, 2);

        Assert.Equal([3f, 4f, 6f, 7f], result);
    }

    [Fact]
    public void Area_resize_of_the_same_size_is_the_identity()
    {
        var source = Enumerable.Range(0, 28 * 28).Select(v => (float)Math.Sin(v)).ToArray();

        Assert.Equal(source, Preprocessor.ResizeArea(source, 28, 28, 28, 28));
    }

    // Expected values printed by torch 1.13 F.interpolate(mode="area") (Debian python3-torch) for the
    // same inputs; they pin the float32 summation order, not just the window arithmetic.
    [Theory]
    [InlineData(5, 7, 3, 4, new[] { 0.3975001f, 2.0316668f, 1.8466669f, 2.0625f, 1.2916667f, 2.216667f, 1.5588889f, 1.5383334f, 0.76750004f, 2.4016669f, 0.79833347f, 2.4325001f })]
    [InlineData(2, 3, 5, 4, new[] { -2.1f, 1.0450001f, 3.0800002f, 1.9700003f, -2.1f, 1.0450001f, 3.0800002f, 1.9700003f, -0.6199999f, 0.3975001f, 2.4325001f, 3.4500003f, 0.86000013f, -0.24999988f, 1.7850002f, 4.9300003f, 0.86000013f, -0.24999988f, 1.7850002f, 4.9300003f })]
    [InlineData(13, 11, 4, 6, new[] { 1.2300001f, 2.155f, 1.9700003f, 1.7850002f, 2.309167f, 1.4612501f, 1.6000001f, 2.525f, 1.6308335f, 2.155f, 1.9700003f, 1.8312501f, 1.9700001f, 2.1858335f, 1.2916667f, 2.525f, 1.6308335f, 2.20125f, 2.3400002f, 2.5558336f, 1.6616669f, 2.1858335f, 1.2916667f, 2.57125f })]
    public void Area_resize_matches_torch(int inHeight, int inWidth, int outHeight, int outWidth, float[] expected)
    {
        var source = new float[inHeight * inWidth];
        for (var r = 0; r < inHeight; r++)
        {
            for (var c = 0; c < inWidth; c++)
            {
                source[r * inWidth + c] = ((r * 31 + c * 17) % 23) * 0.37f - 2.1f;
            }
        }

        var result = Preprocessor.ResizeArea(source, inWidth, inHeight, outWidth, outHeight);

        Assert.Equal(expected.Length, result.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - result[i]) <= 1e-6f, $"[{i}] expected {expected[i]}, got {result[i]}");
        }
    }

    [Fact]
    public void Preprocess_scales_to_minus_one_plus_one_and_inverts_monochrome1()
    {
        var spec = Spec28 with { Resize = new ResizeSpec(2, 1, "area") };
        var preprocessor = new Preprocessor();

        var plain = preprocessor.Preprocess(new GrayscaleImage(2, 1, [100f, 300f], Monochrome1: false), spec);
        var inverted = preprocessor.Preprocess(new GrayscaleImage(2, 1, [100f, 300f], Monochrome1: true), spec);

        Assert.Equal([-1f, 1f], plain);
        Assert.Equal([1f, -1f], inverted);
    }

    [Fact]
    public void Preprocess_of_a_constant_image_is_all_zeros_before_normalisation()
    {
        var image = new GrayscaleImage(30, 30, Enumerable.Repeat(1234f, 900).ToArray(), Monochrome1: false);

        var tensor = new Preprocessor().Preprocess(image, Spec28);

        Assert.Equal(28 * 28, tensor.Length);
        Assert.All(tensor, v => Assert.Equal(-1f, v));
    }

    [Fact]
    public void Preprocess_is_invariant_to_positive_linear_rescaling()
    {
        // The contract removes any modality LUT with positive slope; 12-bit and uint8 copies must agree.
        var random = new Random(7);
        var pixels = Enumerable.Range(0, 56 * 56).Select(_ => (float)random.Next(0, 256)).ToArray();
        var scaled = pixels.Select(p => p * 16f - 1024f).ToArray();
        var preprocessor = new Preprocessor();

        var a = preprocessor.Preprocess(new GrayscaleImage(56, 56, pixels, false), Spec28);
        var b = preprocessor.Preprocess(new GrayscaleImage(56, 56, scaled, false), Spec28);

        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5f, $"[{i}] {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void Preprocess_rejects_an_image_whose_buffer_does_not_match_its_size()
    {
        Assert.Throws<ArgumentException>(() =>
            new Preprocessor().Preprocess(new GrayscaleImage(28, 28, new float[10], false), Spec28));
    }
}
