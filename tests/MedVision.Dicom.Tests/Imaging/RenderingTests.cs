using System.Globalization;
using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// 8-bit renderings compared with dcmtk's dcm2pnm given the same VOI choice: palette, YBR, MONOCHROME1, windows,
/// modality and VOI LUT sequences, overlays. dcmtk and we round the window function independently, so a display
/// value may differ by one level; anything more is a pipeline error.
/// </summary>
public sealed class RenderingTests(ITestOutputHelper output)
{
    private const int Tolerance = 1;

    public static TheoryData<string, int, string> Cases() => new()
    {
        { "examples_palette.dcm", 0, "" },
        { "SC_ybr_full_422_uncompressed.dcm", 0, "" },
        { "examples_ybr_color.dcm", 5, "" },
        { "examples_rgb_color.dcm", 0, "" },
        { "SC_rgb_rle_16bit.dcm", 0, "" },
        { "dicomdirtests/77654033/CR1/6154", 0, "+Wi 1" },
        { "MR_small.dcm", 0, "+Wi 1" },
        { "CT_small.dcm", 0, "+Wm" },
        { "MR_small_jpeg_ls_lossless.dcm", 0, "+Wi 1" },
        { "JPEG2000.dcm", 0, "+Wm" },
        { "rtdose.dcm", 7, "+Wm" },
        { "liver_1frame.dcm", 0, "+Wm" },
        { "examples_overlay.dcm", 0, "+Wi 1 -O" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rendering_matches_dcm2pnm(string name, int frame, string dcmtkOptions)
    {
        var path = Path.Combine(RepoPaths.PydicomTestFiles, name);
        await CompareWithDcm2PnmAsync(path, frame, dcmtkOptions, new RenderOptions(), name);
    }

    [Fact]
    public async Task Overlays_burn_in_as_dcm2pnm_draws_them()
    {
        var path = Path.Combine(RepoPaths.PydicomTestFiles, "examples_overlay.dcm");
        var image = DicomImage.Open(DicomFile.Open(path));
        var overlays = image.GetOverlays(0);
        var overlay = Assert.Single(overlays);
        Assert.Equal(0x6000, overlay.Group);
        Assert.Contains(overlay.Mask, b => b == 1);
        await CompareWithDcm2PnmAsync(path, 0, "+Wi 1", new RenderOptions { BurnInOverlays = true }, "examples_overlay.dcm with overlay");
    }

    [Fact]
    public async Task Modality_and_voi_lut_sequences_render_as_in_dcmtk()
    {
        // No file of the collection has LUT sequences, so we add them to CT_small with our writer: a modality LUT
        // that folds the stored values, and a VOI LUT of 12-bit entries.
        using var temp = new TempDirectory("medvision-lut");
        var source = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"), new DicomReadOptions { LargeValueThreshold = long.MaxValue });
        var dataset = source.Dataset;
        dataset.Remove(DicomTags.RescaleSlope);
        dataset.Remove(DicomTags.RescaleIntercept);
        dataset.Remove(DicomTags.RescaleType);
        var stored = DicomImage.Open(source).GetStoredFrame(0).Values;
        int min = stored.Min(), max = stored.Max();
        var modalityEntries = max - min + 1;
        var modalityData = new ushort[modalityEntries];
        for (var i = 0; i < modalityEntries; i++)
        {
            modalityData[i] = (ushort)Math.Min(4095, (int)(Math.Sqrt(i) * 64));
        }
        var voiData = new ushort[4096];
        for (var i = 0; i < voiData.Length; i++)
        {
            voiData[i] = (ushort)(4095 - i);
        }
        dataset.AddOrUpdate(new DicomSequence(DicomTags.ModalityLUTSequence, [LutItem(modalityEntries, min, 12, modalityData)]));
        dataset.AddOrUpdate(new DicomSequence(DicomTags.VOILUTSequence, [LutItem(4096, 0, 12, voiData)]));
        var path = temp.Combine("ct-luts.dcm");
        new DicomFile(source.FileMetaInfo, dataset, source.TransferSyntax).Save(path);

        var image = DicomImage.Open(DicomFile.Open(path));
        Assert.Equal(MathF.Floor((float)(Math.Sqrt(stored[0] - min) * 64)), image.GetModalityFrame(0).Values[0]);
        await CompareWithDcm2PnmAsync(path, 0, "+Wl 1", new RenderOptions(), "CT_small + modality/VOI LUT sequences");
    }

    [Fact]
    public async Task Png_output_decodes_to_the_rendered_pixels()
    {
        using var temp = new TempDirectory("medvision-png");
        foreach (var name in new[] { "CT_small.dcm", "examples_ybr_color.dcm", "examples_palette.dcm" })
        {
            var image = DicomImage.Open(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, name)));
            var rendered = image.Render(0);
            var png = temp.Combine(Path.ChangeExtension(name, ".png"));
            await File.WriteAllBytesAsync(png, image.RenderPng(0));
            // Pillow (python3-pil) is the independent PNG decoder: it checks every CRC and the zlib stream.
            var pil = await ExternalTool.RunAsync("/usr/bin/python3",
                ["-c", "import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); print(im.mode, im.size[0], im.size[1]); sys.stdout.flush(); sys.stdout.buffer.write(im.tobytes().hex().encode())", png],
                TimeSpan.FromSeconds(60));
            Assert.True(pil.ExitCode == 0, pil.Combined);
            var lines = pil.StandardOutput.Split('\n', 2);
            Assert.Equal($"{(rendered.Channels == 1 ? "L" : "RGB")} {rendered.Width} {rendered.Height}", lines[0].Trim());
            Assert.Equal(rendered.Pixels, Convert.FromHexString(lines[1].Trim()));
        }
    }

    private static DicomDataset LutItem(int entries, int firstMapped, int bits, ushort[] data)
    {
        var bytes = new byte[data.Length * 2];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        return new DicomDataset()
            .AddOrUpdate(DicomTags.LUTDescriptor, DicomVR.US, (ushort)(entries == 65536 ? 0 : entries), (ushort)firstMapped, (ushort)bits)
            .AddOrUpdate(DicomTags.LUTData, DicomVR.OW, bytes);
    }

    private async Task CompareWithDcm2PnmAsync(string path, int frame, string dcmtkOptions, RenderOptions options, string label)
    {
        using var temp = new TempDirectory("medvision-render");
        var pnm = temp.Combine("dcmtk.pnm");
        var file = DicomFile.Open(path);
        var dcmtkInput = path;
        if (file.TransferSyntax.IsEncapsulated)
        {
            // dcm2pnm has no decoders built in: it renders the reference decoder's uncompressed output.
            var decoded = await ReferenceDecoder.DecodeAsync(path, file.TransferSyntax.Uid, temp.Path);
            dcmtkInput = decoded.Path ?? throw new InvalidOperationException($"No reference decoder for {label}: {decoded.Log}");
        }
        var arguments = new List<string> { "+F", (frame + 1).ToString(CultureInfo.InvariantCulture) };
        arguments.AddRange(dcmtkOptions.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        arguments.AddRange([dcmtkInput, pnm]);
        var run = await ExternalTool.RunAsync("dcm2pnm", arguments, TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, $"dcm2pnm {string.Join(' ', arguments)}: {run.Combined}");
        var expected = Pnm.Read(pnm);

        var ours = DicomImage.Open(file).Render(frame, options);
        Assert.Equal((expected.Width, expected.Height, expected.Channels), (ours.Width, ours.Height, ours.Channels));
        int worst = 0, differing = 0;
        for (var i = 0; i < ours.Pixels.Length; i++)
        {
            var d = Math.Abs(ours.Pixels[i] - expected.Pixels[i]);
            worst = Math.Max(worst, d);
            differing += d > 0 ? 1 : 0;
        }
        output.WriteLine($"{label} frame {frame} [{dcmtkOptions}]: max |diff| {worst}, {differing} of {ours.Pixels.Length} values differ");
        Assert.True(worst <= Tolerance, $"{label}: display values differ from dcm2pnm by up to {worst} ({differing} values)");
    }
}
