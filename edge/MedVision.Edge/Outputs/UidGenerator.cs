using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs;

/// <summary>Makes UIDs under <see cref="OutputObjectOptions.UidRoot"/>: random ones for new objects, derived ones where two producers must agree.</summary>
public sealed class UidGenerator(IOptions<OutputObjectOptions> options)
{
    private const int MaxUidLength = 64;

    private string Root => options.Value.UidRoot;

    /// <summary>A new UID from 128 random bits (for 2.25 shaped as an RFC 9562 version 4 UUID, as PS3.5 B.2 asks).</summary>
    public string NewUid()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Compose(bytes);
    }

    /// <summary>
    /// The same UID every time for the same <paramref name="parts"/> (SHA-256 of them), so e.g. the SR and the Parametric Map
    /// producer name the heat-map series alike without talking to each other.
    /// </summary>
    public string DerivedUid(params string[] parts)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f', parts)));
        return Compose(hash.AsSpan(0, 16));
    }

    private string Compose(Span<byte> bytes)
    {
        // Version 4 / variant 10 bits keep a 2.25 UID a well-formed UUID; under a site root they do no harm.
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        var digits = new BigInteger(bytes, isUnsigned: true, isBigEndian: true).ToString(CultureInfo.InvariantCulture);
        var room = MaxUidLength - Root.Length - 1;
        if (digits.Length > room)
        {
            digits = digits[..room].TrimStart('0');
        }
        return Root + "." + (digits.Length == 0 ? "0" : digits);
    }
}
