using MedVision.Testing;
using MedVision.Edge.Inference;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Inference;

/// <summary>
/// The appliance's preprocessing + ONNX Runtime must reproduce the probabilities the training code recorded
/// in the manifest's <c>golden</c> list, from the same PneumoniaMNIST test images read in place.
/// </summary>
public sealed class GoldenParityTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Golden_test_images_reproduce_the_manifest_probabilities()
    {
        using var model = InferenceTestModels.Loader().LoadPackage(RepoPaths.PneumoniaPackage, CancellationToken.None);
        var golden = model.Manifest.Golden;
        Assert.NotNull(golden);
        Assert.NotEmpty(golden);
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        Assert.Equal(3, images.Shape.Length);
        int height = images.Shape[1], width = images.Shape[2];

        var maxDelta = 0.0;
        foreach (var sample in golden)
        {
            Assert.Equal("test", sample.Split);
            var pixels = images.Data.AsSpan(sample.Index * width * height, width * height).ToArray().Select(b => (float)b).ToArray();

            var prediction = model.Predict(new GrayscaleImage(width, height, pixels, Monochrome1: false));

            var probability = Assert.Single(prediction.Outputs).Probability;
            var delta = Math.Abs(probability - sample.Probability);
            maxDelta = Math.Max(maxDelta, delta);
            output.WriteLine($"test[{sample.Index}] golden {sample.Probability:F7} onnx {probability:F7} |dp| {delta:E2}");
            Assert.True(delta <= Tolerance, $"test[{sample.Index}]: golden {sample.Probability}, appliance {probability}, |dp| {delta}");
        }
        output.WriteLine($"{golden.Count} golden samples, max |dp| = {maxDelta:E3} on {model.ExecutionProvider}");
    }

    [Fact]
    public void Golden_parity_holds_for_a_monochrome1_copy_of_the_image()
    {
        // A MONOCHROME1 image is the inverse grey scale; after inversion it must give the same answer.
        using var model = InferenceTestModels.Loader().LoadPackage(RepoPaths.PneumoniaPackage, CancellationToken.None);
        var sample = model.Manifest.Golden![0];
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var pixels = images.Data.AsSpan(sample.Index * 28 * 28, 28 * 28).ToArray().Select(b => 255f - b).ToArray();

        var prediction = model.Predict(new GrayscaleImage(28, 28, pixels, Monochrome1: true));

        Assert.True(Math.Abs(prediction.Outputs[0].Probability - sample.Probability) <= Tolerance);
    }
}
