using System.Buffers.Binary;
using System.IO.Hashing;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using Microsoft.Win32.SafeHandles;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Proof, inside a spool file, that its data set arrived completely.
/// </summary>
/// <remarks>
/// The proof is the standard File Meta element Private Information (0002,0102) under our Private Information Creator
/// UID (0002,0100) — the one place in group 0002 the standard leaves for an implementation's own bytes. It holds the
/// data set length, its CRC-32 and a magic word; the receiver writes zeros there first and the real values only after
/// the whole data set has arrived, then flushes file and proof together while it checks the data set. A power cut
/// during that flush can leave the proof on disk without some data blocks (they read back as zeros or the file is
/// short), which the length and CRC both catch; a transfer cut short never gets a proof at all; a data set that fails
/// its check has the proof zeroed and flushed again before it is quarantined. So start-up recovery trusts exactly the
/// files whose proof checks out, and repeats the checks it can (parse, Study Instance UID) for a cut in the moment
/// between a rejected instance's flush and its proof being taken back.
/// </remarks>
internal static class SpoolProof
{
    public const string CreatorUid = "2.25.186021315626617924180939587004377553723";

    private const int ProofLength = 16;
    private const int PreambleAndGroupLength = 132 + 12;
    private static readonly DicomTag PrivateInformationCreator = new(0x0002, 0x0100);
    private static readonly DicomTag PrivateInformation = new(0x0002, 0x0102);
    private static ReadOnlySpan<byte> Magic => "MVOK"u8;

    // (0002,0102) OB, reserved 2 bytes, length 16: what must precede the proof bytes.
    private static ReadOnlySpan<byte> ProofElementHeader => [0x02, 0x00, 0x02, 0x01, (byte)'O', (byte)'B', 0, 0, ProofLength, 0, 0, 0];

    /// <summary>Preamble, "DICM" and the file meta group with a zeroed proof as its last element.</summary>
    public static byte[] Header(DicomDataset meta, DicomTransferSyntax syntax)
    {
        meta.AddOrUpdate(PrivateInformationCreator, DicomVR.UI, CreatorUid);
        meta.AddOrUpdate(PrivateInformation, DicomVR.OB, new byte[ProofLength]);
        using var buffer = new MemoryStream();
        buffer.Write(new byte[128]);
        buffer.Write("DICM"u8);
        DicomWriter.WriteFileMetaInfo(buffer, meta, syntax);
        var header = buffer.ToArray();
        if (!header.AsSpan(header.Length - ProofLength - ProofElementHeader.Length, ProofElementHeader.Length).SequenceEqual(ProofElementHeader))
        {
            throw new InvalidOperationException("The completion proof is not the last element of the file meta group.");
        }
        return header;
    }

    /// <summary>Writes the proof for a data set of <paramref name="datasetLength"/> bytes with CRC-32 <paramref name="crc"/>.</summary>
    public static void Write(SafeFileHandle file, long headerLength, long datasetLength, uint crc)
    {
        Span<byte> proof = stackalloc byte[ProofLength];
        BinaryPrimitives.WriteInt64LittleEndian(proof, datasetLength);
        BinaryPrimitives.WriteUInt32LittleEndian(proof[8..], crc);
        Magic.CopyTo(proof[12..]);
        RandomAccess.Write(file, proof, headerLength - ProofLength);
    }

    /// <summary>Zeroes the proof again: the data set failed its check after the proof was written.</summary>
    public static void Clear(SafeFileHandle file, long headerLength)
    {
        RandomAccess.Write(file, stackalloc byte[ProofLength], headerLength - ProofLength);
    }

    /// <summary>Whether <paramref name="path"/> holds a complete, proven data set; <paramref name="reason"/> says why not.</summary>
    public static async Task<(bool Proven, string Reason)> VerifyAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var start = new byte[PreambleAndGroupLength];
        if (await ReadAtAsync(file, start, 0, cancellationToken).ConfigureAwait(false) < start.Length
            || !start.AsSpan(128, 4).SequenceEqual("DICM"u8)
            || !start.AsSpan(132, 8).SequenceEqual((ReadOnlySpan<byte>)[0x02, 0x00, 0x00, 0x00, (byte)'U', (byte)'L', 4, 0]))
        {
            return (false, "no file meta group length");
        }
        var datasetStart = PreambleAndGroupLength + (long)BinaryPrimitives.ReadUInt32LittleEndian(start.AsSpan(140));
        var proofElement = new byte[ProofElementHeader.Length + ProofLength];
        if (datasetStart > file.Length
            || await ReadAtAsync(file, proofElement, datasetStart - proofElement.Length, cancellationToken).ConfigureAwait(false) < proofElement.Length
            || !proofElement.AsSpan(0, ProofElementHeader.Length).SequenceEqual(ProofElementHeader))
        {
            return (false, "no completion proof element");
        }
        var proof = proofElement.AsSpan(ProofElementHeader.Length);
        if (!proof[12..].SequenceEqual(Magic))
        {
            return (false, "completion proof never written (transfer not finished)");
        }
        var datasetLength = BinaryPrimitives.ReadInt64LittleEndian(proof);
        var expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(proof[8..]);
        if (file.Length != datasetStart + datasetLength)
        {
            return (false, $"file holds {file.Length - datasetStart} data set bytes, proof says {datasetLength}");
        }
        var crc = new Crc32();
        var chunk = new byte[1 << 16];
        file.Position = datasetStart;
        int read;
        while ((read = await file.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            crc.Append(chunk.AsSpan(0, read));
        }
        return crc.GetCurrentHashAsUInt32() == expectedCrc ? (true, "") : (false, "data set CRC-32 differs from the proof");
    }

    private static async Task<int> ReadAtAsync(FileStream file, byte[] buffer, long offset, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(file.SafeFileHandle, buffer.AsMemory(total), offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}
