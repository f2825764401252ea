using MedVision.Dicom.IO;

namespace MedVision.Dicom.Network;

/// <summary>DIMSE command fields (PS3.7 E.1) and command-set encoding, always implicit VR little endian.</summary>
public static class DimseCommand
{
    public const ushort CStoreRequest = 0x0001;
    public const ushort CEchoRequest = 0x0030;
    public const ushort CCancelRequest = 0x0FFF;
    public const ushort NEventReportRequest = 0x0100;
    public const ushort NActionRequest = 0x0130;
    public const ushort ResponseBit = 0x8000;
    public const ushort NoDataSet = 0x0101;

    public static DicomDataset Parse(ReadOnlyMemory<byte> bytes)
    {
        using var stream = new MemoryStream(bytes.ToArray(), writable: false);
        return DicomReader.ReadDataset(stream, DicomTransferSyntax.ImplicitVRLittleEndian);
    }

    public static DicomDataset CreateResponse(DicomDataset request, DicomStatus status, string? errorComment = null)
    {
        var command = request.GetIntOrDefault(DicomTags.CommandField, 0);
        var response = new DicomDataset();
        // N-ACTION and other normalized requests name their target as Requested*, answered as Affected* (PS3.7 10.1).
        if (request.TryGetString(DicomTags.AffectedSOPClassUID, out var sopClass) || request.TryGetString(DicomTags.RequestedSOPClassUID, out sopClass))
        {
            response.AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClass);
        }
        response.AddOrUpdate(DicomTags.CommandField, DicomVR.US, (ushort)(command | ResponseBit));
        response.AddOrUpdate(DicomTags.MessageIDBeingRespondedTo, DicomVR.US, (ushort)request.GetIntOrDefault(DicomTags.MessageID, 0));
        response.AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, NoDataSet);
        response.AddOrUpdate(DicomTags.Status, DicomVR.US, status.Code);
        if (errorComment is not null && !status.IsSuccess)
        {
            response.AddOrUpdate(DicomTags.ErrorComment, DicomVR.LO, errorComment.Length > 64 ? errorComment[..64] : errorComment);
        }
        if (request.TryGetString(DicomTags.AffectedSOPInstanceUID, out var sopInstance) || request.TryGetString(DicomTags.RequestedSOPInstanceUID, out sopInstance))
        {
            response.AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstance);
        }
        foreach (var typeId in new[] { DicomTags.ActionTypeID, DicomTags.EventTypeID })
        {
            if (request.TryGetInt(typeId, out var value))
            {
                response.AddOrUpdate(typeId, DicomVR.US, (ushort)value);
            }
        }
        return response;
    }

    /// <summary>Encodes a command set with its Command Group Length (0000,0000), which PS3.7 E.1 requires.</summary>
    public static byte[] Encode(DicomDataset command)
    {
        var body = new MemoryStream();
        var withoutLength = new DicomDataset(command.Where(i => !i.Tag.IsGroupLength));
        DicomWriter.WriteDataset(body, withoutLength, DicomTransferSyntax.ImplicitVRLittleEndian);
        var result = new MemoryStream();
        WriteGroupLength(result, (uint)body.Length);
        body.Position = 0;
        body.CopyTo(result);
        return result.ToArray();
    }

    private static void WriteGroupLength(Stream stream, uint value)
    {
        Span<byte> b = stackalloc byte[12];
        b.Clear();
        b[4] = 4; // tag (0000,0000), length 4, value
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b[8..], value);
        stream.Write(b);
    }
}
