using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace MedVision.Dicom.Deidentification;

/// <summary>
/// A site's secret for de-identification. Everything that must be consistent across instances (replacement UIDs,
/// patient pseudonyms, date shifts) is an HMAC-SHA256 of the original under this key, so the same input gives the same
/// output in every instance, run and machine of the site, while nobody without the key can map outputs back or
/// link them to another site's (a different key gives unrelated values).
/// </summary>
public sealed class DeidentificationKey
{
    public const int MinimumLength = 16;

    private readonly byte[] _key;

    public DeidentificationKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < MinimumLength)
        {
            throw new ArgumentException($"A de-identification key needs at least {MinimumLength} bytes, not {key.Length}.", nameof(key));
        }
        _key = key.ToArray();
    }

    /// <summary>The key is the file's bytes (e.g. <c>head -c 32 /dev/urandom &gt; site.key</c>).</summary>
    public static DeidentificationKey FromFile(string path) => new(File.ReadAllBytes(path));

    /// <summary>A fresh random key: consistent within one run only.</summary>
    public static DeidentificationKey CreateRandom() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// A UID under 2.25 (PS3.5 B.2) from the first 128 bits of the HMAC, with the version and variant bits of an
    /// RFC 9562 version 8 UUID so the number is a well-formed UUID as 2.25 requires. At most 44 characters.
    /// </summary>
    public string MapUid(string uid)
    {
        var hash = Hash("uid", uid.Trim().TrimEnd('\0'));
        Span<byte> uuid = hash.AsSpan(0, 16);
        uuid[6] = (byte)((uuid[6] & 0x0F) | 0x80);
        uuid[8] = (byte)((uuid[8] & 0x3F) | 0x80);
        return "2.25." + new BigInteger(uuid, isUnsigned: true, isBigEndian: true).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A pseudonym such as "MV-7K3QD9X2M4TZ8HPA": 80 bits of the HMAC in Crockford base32.</summary>
    public string Pseudonym(string prefix, string identity)
    {
        const string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        var hash = Hash("patient", identity.Trim());
        var text = new StringBuilder(prefix).Append('-');
        ulong bits = 0;
        var available = 0;
        var index = 0;
        for (var i = 0; i < 16; i++)
        {
            if (available < 5)
            {
                bits = (bits << 8) | hash[index++];
                available += 8;
            }
            text.Append(alphabet[(int)((bits >> (available - 5)) & 31)]);
            available -= 5;
        }
        return text.ToString();
    }

    /// <summary>Days to move this patient's dates back: 1 to <paramref name="maxDays"/>, the same for every instance of the patient.</summary>
    public int DateShiftDays(string identity, int maxDays)
    {
        var hash = Hash("date-shift", identity.Trim());
        return (int)(BitConverter.ToUInt64(hash, 0) % (ulong)maxDays) + 1;
    }

    private byte[] Hash(string purpose, string value) =>
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{purpose}\n{value}"));
}
