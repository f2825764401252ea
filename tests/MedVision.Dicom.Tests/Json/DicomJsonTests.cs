using System.Text;
using System.Text.Json;
using MedVision.Dicom.IO;
using MedVision.Dicom.Json;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Json;

/// <summary>The VR-by-VR rules of PS3.18 F.2, on datasets built for the purpose.</summary>
public sealed class DicomJsonTests
{
    private static JsonElement Attribute(string json, string key)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty(key).Clone();
    }

    [Fact]
    public void Person_names_are_objects_with_their_component_groups()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192")
            .AddOrUpdate(DicomTags.PatientName, DicomVR.PN, "Yamada^Tarou=山田^太郎=やまだ^たろう\\Doe^John");
        var value = Attribute(DicomJson.Serialize(dataset), "00100010").GetProperty("Value");
        Assert.Equal(2, value.GetArrayLength());
        Assert.Equal("Yamada^Tarou", value[0].GetProperty("Alphabetic").GetString());
        Assert.Equal("山田^太郎", value[0].GetProperty("Ideographic").GetString());
        Assert.Equal("やまだ^たろう", value[0].GetProperty("Phonetic").GetString());
        Assert.Equal("Doe^John", value[1].GetProperty("Alphabetic").GetString());
        Assert.False(value[1].TryGetProperty("Ideographic", out _));

        var back = DicomJson.Deserialize(DicomJson.Serialize(dataset));
        Assert.Equal("Yamada^Tarou=山田^太郎=やまだ^たろう\\Doe^John", back.GetStringOrDefault(DicomTags.PatientName));
    }

    [Fact]
    public void Empty_attributes_have_no_value_and_empty_values_are_null()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, string.Empty)
            .AddOrUpdate(DicomTags.ImageType, DicomVR.CS, "ORIGINAL\\\\AXIAL")
            .AddOrUpdate(new DicomSequence(DicomTags.ReferencedImageSequence))
            .AddOrUpdate(new DicomSequence(DicomTags.ProcedureCodeSequence, [new DicomDataset()]));
        var json = DicomJson.Serialize(dataset);
        var accession = Attribute(json, "00080050");
        Assert.False(accession.TryGetProperty("Value", out _));
        var imageType = Attribute(json, "00080008").GetProperty("Value");
        Assert.Equal(JsonValueKind.Null, imageType[1].ValueKind);
        Assert.False(Attribute(json, "00081140").TryGetProperty("Value", out _));
        Assert.Empty(Attribute(json, "00081032").GetProperty("Value")[0].EnumerateObject());

        var back = DicomJson.Deserialize(json);
        Assert.Equal("ORIGINAL\\\\AXIAL", back.GetStringOrDefault(DicomTags.ImageType));
        Assert.True(back.TryGetSequence(DicomTags.ProcedureCodeSequence, out var procedure));
        Assert.Single(procedure.Items);
    }

    [Fact]
    public void Numbers_are_json_numbers_and_tags_are_hex_strings()
    {
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.SeriesNumber, DicomVR.IS, "+7")
            .AddOrUpdate(DicomTags.SliceThickness, DicomVR.DS, "1.50")
            .AddOrUpdate(DicomTags.PixelSpacing, DicomVR.DS, ".5\\1e2")
            .AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)512)
            .AddOrUpdate(DicomTags.FrameIncrementPointer, DicomVR.AT, [0x0018u | (0x1063u << 16)])
            .AddOrUpdate(new DicomElement(DicomTags.SelectorSVValue, DicomVR.SV, new MemoryByteBuffer(BitConverter.GetBytes(long.MinValue))))
            .AddOrUpdate(new DicomElement(DicomTags.SelectorFDValue, DicomVR.FD, new MemoryByteBuffer(BitConverter.GetBytes(0.1))));
        var json = DicomJson.Serialize(dataset);
        Assert.Equal(7, Attribute(json, "00200011").GetProperty("Value")[0].GetInt32());
        Assert.Equal("1.50", Attribute(json, "00180050").GetProperty("Value")[0].GetRawText());
        Assert.Equal(0.5, Attribute(json, "00280030").GetProperty("Value")[0].GetDouble());
        Assert.Equal(100, Attribute(json, "00280030").GetProperty("Value")[1].GetDouble());
        Assert.Equal(512, Attribute(json, "00280010").GetProperty("Value")[0].GetInt32());
        Assert.Equal("00181063", Attribute(json, "00280009").GetProperty("Value")[0].GetString());
        // Beyond 2^53 a JSON number would lose digits, so SV/UV become strings (F.2.3 note).
        Assert.Equal("-9223372036854775808", Attribute(json, "00720082").GetProperty("Value")[0].GetString());
        Assert.Equal(0.1, Attribute(json, "00720074").GetProperty("Value")[0].GetDouble());

        var back = DicomJson.Deserialize(json);
        Assert.True(back.TryGetNumber(DicomTags.SelectorSVValue, 0, out var sv));
        Assert.Equal(long.MinValue, (long)sv);
        Assert.True(back.TryGetElement(DicomTags.FrameIncrementPointer, out var at));
        Assert.Equal(new byte[] { 0x18, 0x00, 0x63, 0x10 }, at.Buffer.GetBytes().ToArray());
    }

    [Fact]
    public void Invalid_decimal_strings_stay_strings()
    {
        var dataset = new DicomDataset().AddOrUpdate(DicomTags.WindowCenter, DicomVR.DS, "1A");
        var value = Attribute(DicomJson.Serialize(dataset), "00281050").GetProperty("Value")[0];
        Assert.Equal(JsonValueKind.String, value.ValueKind);
        Assert.Equal("1A", value.GetString());
    }

    [Fact]
    public void Binary_values_are_inline_base64_or_bulk_data_uris_when_asked()
    {
        var pixels = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();
        var lut = new byte[] { 1, 2, 3 };
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.RedPaletteColorLookupTableData, DicomVR.OW, lut)
            .AddOrUpdate(DicomTags.PixelData, DicomVR.OW, pixels);
        var inline = DicomJson.Serialize(dataset);
        Assert.Equal(pixels, Attribute(inline, "7FE00010").GetProperty("InlineBinary").GetBytesFromBase64());
        // The Value Field is even: an odd value is shown with its pad byte.
        Assert.Equal(new byte[] { 1, 2, 3, 0 }, Attribute(inline, "00281201").GetProperty("InlineBinary").GetBytesFromBase64());

        var bulk = DicomJson.Serialize(dataset, new DicomJsonOptions
        {
            BulkDataThreshold = 1024,
            BulkDataUri = b => $"https://pacs.example/studies/1/bulk/{b.Path}?length={b.Length}",
        });
        Assert.Equal("https://pacs.example/studies/1/bulk/7FE00010?length=4096", Attribute(bulk, "7FE00010").GetProperty("BulkDataURI").GetString());
        Assert.True(Attribute(bulk, "00281201").TryGetProperty("InlineBinary", out _));

        Assert.Throws<DicomFormatException>(() => DicomJson.Deserialize(bulk));
        var resolved = DicomJson.Deserialize(bulk, new DicomJsonReadOptions { BulkDataResolver = _ => pixels });
        Assert.True(resolved.TryGetElement(DicomTags.PixelData, out var element));
        Assert.Equal(pixels, element.Buffer.GetBytes().ToArray());
    }

    [Fact]
    public void Encapsulated_pixel_data_round_trips_as_its_item_stream()
    {
        var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "JPEG2000.dcm"));
        Assert.IsType<DicomFragmentSequence>(file.Dataset[DicomTags.PixelData]);
        var back = DicomJson.Deserialize(DicomJson.Serialize(file.Dataset));
        var original = (DicomFragmentSequence)file.Dataset[DicomTags.PixelData]!;
        var fragments = Assert.IsType<DicomFragmentSequence>(back[DicomTags.PixelData]);
        Assert.Equal(original.Fragments.Count, fragments.Fragments.Count);
        for (var i = 0; i < original.Fragments.Count; i++)
        {
            var expected = original.Fragments[i].GetBytes().ToArray();
            var actual = fragments.Fragments[i].GetBytes().ToArray();
            // Fragments are even on the wire; an odd fragment comes back with its pad byte.
            Assert.Equal(expected, actual.AsSpan(0, expected.Length).ToArray());
        }
    }

    [Fact]
    public void Non_ascii_text_is_stored_as_utf8_and_declared()
    {
        var json = """{ "00100010": { "vr": "PN", "Value": [ { "Alphabetic": "Müller^Jörg" } ] }, "00081030": { "vr": "LO", "Value": [ "Thorax" ] } }""";
        var dataset = DicomJson.Deserialize(json);
        Assert.Equal("ISO_IR 192", dataset.GetStringOrDefault(DicomTags.SpecificCharacterSet));
        Assert.True(dataset.TryGetElement(DicomTags.PatientName, out var name));
        Assert.Equal(Encoding.UTF8.GetBytes("Müller^Jörg"), name.Buffer.GetBytes().ToArray().AsSpan(0, (int)name.Length - 1).ToArray());
        Assert.Equal("Müller^Jörg", dataset.GetStringOrDefault(DicomTags.PatientName));

        // What we read must also write and read back as DICOM.
        using var stream = new MemoryStream();
        DicomWriter.WriteDataset(stream, dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
        stream.Position = 0;
        var reread = DicomReader.ReadDataset(stream, DicomTransferSyntax.ExplicitVRLittleEndian);
        Assert.Equal("Müller^Jörg", reread.GetStringOrDefault(DicomTags.PatientName));
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("{ \"0010001\": { \"vr\": \"PN\" } }")]
    [InlineData("{ \"00100010\": { \"Value\": [] } }")]
    [InlineData("{ \"00100010\": { \"vr\": \"XX\" } }")]
    [InlineData("{ \"00280010\": { \"vr\": \"US\", \"Value\": [ 70000 ] } }")]
    [InlineData("{ \"00280010\": { \"vr\": \"US\", \"Value\": [ \"512\" ] } }")]
    [InlineData("{ \"7FE00010\": { \"vr\": \"OW\", \"InlineBinary\": \"***\" } }")]
    [InlineData("{ \"00080008\": { \"vr\": \"CS\", \"Value\": [ \"A\\\\B\" ] } }")]
    [InlineData("{ \"00081140\": { \"vr\": \"SQ\", \"Value\": [ 1 ] } }")]
    [InlineData("{ \"00100010\": { \"vr\": \"PN\", \"Value\": [ { \"Nickname\": \"x\" } ] } }")]
    [InlineData("{ \"00100010\": { \"vr\": \"PN\", \"Value\": [\"x\"], \"InlineBinary\": \"AA==\" } }")]
    [InlineData("not json")]
    public void Malformed_json_is_refused_with_a_format_error(string json)
    {
        Assert.Throws<DicomFormatException>(() => DicomJson.Deserialize(json));
    }

    [Fact]
    public void Deeply_nested_sequences_are_refused_not_overflowing_the_stack()
    {
        var json = new StringBuilder();
        const int depth = 200;
        for (var i = 0; i < depth; i++)
        {
            json.Append("{\"00081140\":{\"vr\":\"SQ\",\"Value\":[");
        }
        json.Append("{}");
        for (var i = 0; i < depth; i++)
        {
            json.Append("]}}");
        }
        Assert.Throws<DicomFormatException>(() => DicomJson.Deserialize(json.ToString()));
    }

    [Fact]
    public void Sequence_depth_limit_applies_below_the_json_parser_limit()
    {
        static string Nested(int depth) =>
            string.Concat(Enumerable.Repeat("{\"00081140\":{\"vr\":\"SQ\",\"Value\":[", depth)) + "{}" + string.Concat(Enumerable.Repeat("]}}", depth));
        var options = new DicomJsonReadOptions { MaxDepth = 16 };
        Assert.NotNull(DicomJson.Deserialize(Nested(16), options));
        var ex = Assert.Throws<DicomFormatException>(() => DicomJson.Deserialize(Nested(17), options));
        Assert.Contains("nested deeper", ex.Message, StringComparison.Ordinal);
    }
}
