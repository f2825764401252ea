using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Outputs;

public sealed class ManifestCodingTests
{
    [Fact]
    public async Task Shipped_labels_carry_their_snomed_coding_into_the_loaded_model()
    {
        var manifest = ModelManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(RepoPaths.PneumoniaPackage, ModelManifest.FileName)));
        Assert.Equal(new CodingSpec("http://snomed.info/sct", "233604007", "Pneumonia (disorder)"), manifest.Labels.Single().Coding);
        var cam = manifest.Outputs.Single(o => o.Kind == OutputKinds.Cam);
        Assert.Equal([-1L, 1, 16, 16], cam.Shape);
        Assert.Equal("relu_max", cam.Normalization);
        Assert.Empty(manifest.Validate());
    }

    [Fact]
    public async Task Half_a_coding_or_a_cam_shape_without_one_map_per_label_is_refused()
    {
        var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepoPaths.PneumoniaPackage, ModelManifest.FileName)))!.AsObject();
        json["labels"]![0]!["coding"]!["code"] = "";
        json["outputs"]!.AsArray().Single(o => (string?)o!["kind"] == "cam")!["shape"] = new JsonArray(-1, 2, 16, 16);
        var errors = ModelManifest.Parse(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())).Validate();
        Assert.Contains(errors, e => e.Contains("coding needs system, code and display", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("cam output 'cam' shape", StringComparison.Ordinal));
    }
}
