using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MedVision.Cloud.Broker;

/// <summary>
/// Password hashes in Mosquitto's <c>$7$</c> format (PBKDF2-HMAC-SHA512, as <c>mosquitto_passwd</c> writes them), so the
/// same stored hash checks a device's password in the embedded broker and goes into Mosquitto's password file.
/// </summary>
internal static class MosquittoPasswordHash
{
    private const int Iterations = 101;
    private const int SaltBytes = 12;
    private const int HashBytes = 64;

    public static string Create(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA512, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"$7${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    public static bool Verify(string password, string encoded)
    {
        var parts = encoded.Split('$');
        // "", "7", iterations, salt, hash
        if (parts.Length != 5 || parts[1] != "7" || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations is < 1 or > 1_000_000)
        {
            return false;
        }
        try
        {
            var salt = Convert.FromBase64String(parts[3]);
            var expected = Convert.FromBase64String(parts[4]);
            var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, expected.Length);
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
