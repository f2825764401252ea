using System.Reflection;

namespace MedVision.Dicom.Tests;

public sealed class UidRegistryTests
{
    private static readonly DicomUidRegistry Registry = DicomUidRegistry.Default;

    [Fact]
    public void ExplicitVRLittleEndian_IsATransferSyntax()
    {
        Assert.Equal("1.2.840.10008.1.2.1", DicomUids.ExplicitVRLittleEndian);
        Assert.True(Registry.TryGet("1.2.840.10008.1.2.1", out var info));
        Assert.Equal("ExplicitVRLittleEndian", info.Keyword);
        Assert.Equal("Explicit VR Little Endian", info.Name);
        Assert.Equal("Transfer Syntax", info.Type);
        Assert.False(info.Retired);
        Assert.True(Registry.IsTransferSyntax(DicomUids.ExplicitVRLittleEndian));
        Assert.True(Registry.IsTransferSyntax("1.2.840.10008.1.2.1\0")); // as read from a padded UI element
        Assert.True(Registry.IsTransferSyntax(DicomUids.ExplicitVRBigEndian));
        Assert.False(Registry.IsTransferSyntax(DicomUids.CTImageStorage));
        Assert.False(Registry.IsTransferSyntax("1.2.3.4"));
    }

    [Fact]
    public void RetiredUids_AreMarked()
    {
        Assert.True(Registry.TryGet(DicomUids.ExplicitVRBigEndian, out var info));
        Assert.True(info.Retired);
    }

    [Theory]
    [InlineData("1.2.840.10008.5.1.4.1.1.2", true)]        // CT Image Storage
    [InlineData("1.2.840.10008.5.1.4.1.1.1.1", true)]      // Digital X-Ray Image Storage - For Presentation
    [InlineData("1.2.840.10008.5.1.4.1.1.88.1", true)]     // Text SR Storage - Trial (retired)
    [InlineData("1.2.840.10008.5.1.4.34.7", true)]         // RT Beams Delivery Instruction Storage
    [InlineData("1.2.840.10008.5.1.4.1.1.9999.1", true)]   // newer than this registry, under the storage root
    [InlineData("1.2.840.10008.1.1", false)]               // Verification
    [InlineData("1.2.840.10008.1.20.1", false)]            // Storage Commitment Push Model
    [InlineData("1.2.840.10008.1.3.10", false)]            // Media Storage Directory Storage
    [InlineData("1.2.840.10008.5.1.4.1.1.200.4", false)]   // Protocol Approval Information Model - FIND
    [InlineData("1.2.840.10008.5.1.4.1.2.2.1", false)]     // Study Root Q/R - FIND
    [InlineData("1.2.840.10008.1.2.1", false)]             // a transfer syntax
    [InlineData("1.2.3.4", false)]
    public void IsStorageSopClass(string uid, bool expected) =>
        Assert.Equal(expected, Registry.IsStorageSopClass(uid));

    [Fact]
    public void NamedConstants_AreStorageOrNot()
    {
        Assert.True(Registry.IsStorageSopClass(DicomUids.CTImageStorage));
        Assert.True(Registry.IsStorageSopClass(DicomUids.MRImageStorage));
        Assert.False(Registry.IsStorageSopClass(DicomUids.Verification));
        Assert.False(Registry.IsStorageSopClass(DicomUids.StorageCommitmentPushModel));
    }

    [Fact]
    public void Describe_GivesTheNameOrTheUid()
    {
        Assert.Equal("CT Image Storage", Registry.Describe("1.2.840.10008.5.1.4.1.1.2"));
        Assert.Equal("JPEG Baseline (Process 1)", Registry.Describe("1.2.840.10008.1.2.4.50"));
        Assert.Equal("1.2.3.4.5", Registry.Describe("1.2.3.4.5"));
    }

    [Fact]
    public void KeywordLookup()
    {
        Assert.True(Registry.TryGetByKeyword("CTImageStorage", out var ct));
        Assert.Equal("1.2.840.10008.5.1.4.1.1.2", ct.Uid);
        Assert.False(Registry.TryGetByKeyword("NoSuchUid", out _));
    }

    [Fact]
    public void EveryDicomUidsConstant_IsRegisteredUnderItsKeyword()
    {
        var fields = typeof(DicomUids).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
        Assert.True(fields.Count > 400, $"only {fields.Count} constants");
        foreach (var field in fields)
        {
            var uid = (string)field.GetRawConstantValue()!;
            Assert.True(Registry.TryGet(uid, out var info), uid);
            Assert.Equal(field.Name, info.Keyword);
        }
        Assert.True(Registry.Count >= fields.Count);
        Assert.Equal(Registry.Count, Registry.Entries.Select(e => e.Uid).Distinct().Count());
    }

    [Fact]
    public void KnownTypes_ArePresent()
    {
        var types = Registry.Entries.Select(e => e.Type).ToHashSet();
        Assert.Contains("SOP Class", types);
        Assert.Contains("Transfer Syntax", types);
        Assert.Contains("Well-known frame of reference", types);
        Assert.Equal(DicomUids.ImplicitVRLittleEndian, Registry.Entries.First(e => e.IsTransferSyntax).Uid);
    }
}
