using System.Text.Json;
using MedVision.Dicom.IO;
using MedVision.Dicom.Json;

namespace MedVision.Dicom.Tests.Json;

/// <summary>
/// Compares two DICOM JSON documents by meaning rather than by text: attribute sets, VRs, values (numbers as numbers,
/// FL at single precision), PN component groups, sequence items and the bytes behind InlineBinary.
/// </summary>
internal static class JsonTree
{
    public static List<string> Differences(JsonElement expected, JsonElement actual, string path = "")
    {
        var differences = new List<string>();
        CompareDataset(expected, actual, path, differences);
        return differences;
    }

    private static void CompareDataset(JsonElement expected, JsonElement actual, string path, List<string> differences)
    {
        if (expected.ValueKind != JsonValueKind.Object || actual.ValueKind != JsonValueKind.Object)
        {
            differences.Add($"{path}: {expected.ValueKind} vs {actual.ValueKind}");
            return;
        }
        var theirs = expected.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var ours = actual.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        foreach (var missing in theirs.Keys.Except(ours.Keys))
        {
            differences.Add($"{path}/{missing}: missing in ours");
        }
        foreach (var extra in ours.Keys.Except(theirs.Keys))
        {
            differences.Add($"{path}/{extra}: only in ours");
        }
        foreach (var key in theirs.Keys.Intersect(ours.Keys))
        {
            CompareAttribute(theirs[key], ours[key], $"{path}/{key}", differences);
        }
    }

    private static void CompareAttribute(JsonElement expected, JsonElement actual, string path, List<string> differences)
    {
        var vr = expected.GetProperty("vr").GetString();
        var ourVR = actual.GetProperty("vr").GetString();
        if (vr == "UN" && ourVR == "SQ" && expected.TryGetProperty("InlineBinary", out var unknown))
        {
            CompareUnknownAsSequence(unknown.GetBytesFromBase64(), actual, path, differences);
            return;
        }
        if (vr != ourVR)
        {
            differences.Add($"{path}: vr {ourVR}, expected {vr}");
            return;
        }
        var names = new[] { "Value", "InlineBinary", "BulkDataURI" };
        var theirKind = names.FirstOrDefault(n => expected.TryGetProperty(n, out _));
        var ourKind = names.FirstOrDefault(n => actual.TryGetProperty(n, out _));
        if (theirKind != ourKind)
        {
            differences.Add($"{path}: {ourKind ?? "no value"}, expected {theirKind ?? "no value"}");
            return;
        }
        switch (theirKind)
        {
            case "InlineBinary":
                var a = expected.GetProperty("InlineBinary").GetBytesFromBase64();
                var b = actual.GetProperty("InlineBinary").GetBytesFromBase64();
                if (!a.AsSpan().SequenceEqual(b))
                {
                    differences.Add($"{path}: InlineBinary differs ({b.Length} bytes, expected {a.Length})");
                }
                break;
            case "Value":
                CompareValues(expected.GetProperty("Value"), actual.GetProperty("Value"), vr!, path, differences);
                break;
        }
    }

    private static void CompareValues(JsonElement expected, JsonElement actual, string vr, string path, List<string> differences)
    {
        if (expected.GetArrayLength() != actual.GetArrayLength())
        {
            differences.Add($"{path}: {actual.GetArrayLength()} values, expected {expected.GetArrayLength()} ({Short(actual)} vs {Short(expected)})");
            return;
        }
        for (var i = 0; i < expected.GetArrayLength(); i++)
        {
            var e = expected[i];
            var a = actual[i];
            var where = $"{path}[{i}]";
            if (vr == "SQ")
            {
                CompareDataset(e, a, where, differences);
            }
            else if (e.ValueKind == JsonValueKind.Number && a.ValueKind == JsonValueKind.Number)
            {
                var x = e.GetDouble();
                var y = a.GetDouble();
                var equal = vr switch
                {
                    "FL" => (float)x == (float)y,
                    // dcmtk prints FD with 17 digits through its own ftoa, which can land one ulp off the stored value.
                    "FD" => Math.Abs(BitConverter.DoubleToInt64Bits(x) - BitConverter.DoubleToInt64Bits(y)) <= 1,
                    _ => x == y,
                };
                if (!equal)
                {
                    differences.Add($"{where}: {a.GetRawText()}, expected {e.GetRawText()}");
                }
            }
            else if (e.ValueKind != a.ValueKind)
            {
                differences.Add($"{where}: {a.GetRawText()}, expected {e.GetRawText()}");
            }
            else if (e.ValueKind == JsonValueKind.Object)
            {
                var theirs = e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
                var ours = a.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
                if (theirs.Count != ours.Count || theirs.Any(kv => !ours.TryGetValue(kv.Key, out var v) || v != kv.Value))
                {
                    differences.Add($"{where}: {a.GetRawText()}, expected {e.GetRawText()}");
                }
            }
            else if (e.ValueKind == JsonValueKind.String && e.GetString() != a.GetString())
            {
                differences.Add($"{where}: {a.GetRawText()}, expected {e.GetRawText()}");
            }
        }
    }

    /// <summary>
    /// dcmtk keeps a defined-length UN as bytes; our reader decodes it as the sequence the dictionary defines (its
    /// content is implicit VR little endian, PS3.5 6.2.2). Decode dcmtk's bytes the same way and compare the items.
    /// </summary>
    private static void CompareUnknownAsSequence(byte[] bytes, JsonElement actual, string path, List<string> differences)
    {
        var key = path[(path.LastIndexOf('/') + 1)..];
        var tag = DicomTag.FromValue(Convert.ToUInt32(key, 16));
        using var stream = new MemoryStream();
        stream.Write(BitConverter.GetBytes(tag.Group));
        stream.Write(BitConverter.GetBytes(tag.Element));
        stream.Write(BitConverter.GetBytes((uint)bytes.Length));
        stream.Write(bytes);
        stream.Position = 0;
        var decoded = DicomReader.ReadDataset(stream, DicomTransferSyntax.ImplicitVRLittleEndian);
        using var theirs = JsonDocument.Parse(DicomJson.Serialize(decoded));
        CompareAttribute(theirs.RootElement.GetProperty(key), actual, path, differences);
    }

    private static string Short(JsonElement e)
    {
        var text = e.GetRawText();
        return text.Length > 120 ? text[..120] + "..." : text;
    }
}
