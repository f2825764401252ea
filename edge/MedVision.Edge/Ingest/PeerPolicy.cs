using System.Net;
using MedVision.Dicom.Network;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Which peers may associate: source address ranges for everyone, and per calling AE the addresses it must come from,
/// so a modality's AE title cannot simply be borrowed by another host.
/// </summary>
public sealed class PeerPolicy : IAssociationPolicy
{
    private readonly IReadOnlyList<AddressRange> _allowed;
    private readonly Dictionary<string, IReadOnlyList<AddressRange>> _perAe;

    public PeerPolicy(IOptions<DicomOptions> options)
    {
        _allowed = options.Value.AllowedAddresses.Select(AddressRange.Parse).ToList();
        _perAe = options.Value.CallingAeAddresses.ToDictionary(
            p => p.Key,
            p => (IReadOnlyList<AddressRange>)p.Value.Select(AddressRange.Parse).ToList(),
            StringComparer.Ordinal);
    }

    public AssociationRejection? Evaluate(AssociateRequest request, IPEndPoint? remote)
    {
        var address = remote?.Address.IsIPv4MappedToIPv6 == true ? remote.Address.MapToIPv4() : remote?.Address;
        if (_allowed.Count > 0 && (address is null || !_allowed.Any(r => r.Contains(address))))
        {
            return AssociationRejection.CallingAeNotRecognized($"source address {address} is not in MedVision:Dicom:AllowedAddresses");
        }
        if (_perAe.TryGetValue(request.CallingAeTitle, out var ranges) && (address is null || !ranges.Any(r => r.Contains(address))))
        {
            return AssociationRejection.CallingAeNotRecognized($"calling AE '{request.CallingAeTitle}' may not connect from {address}");
        }
        return null;
    }

    /// <summary>An address or CIDR block ("10.1.2.0/24", "::1").</summary>
    private sealed record AddressRange(IPAddress Network, int PrefixLength)
    {
        public static AddressRange Parse(string text)
        {
            var parts = text.Trim().Split('/');
            var address = IPAddress.Parse(parts[0]);
            var bits = address.GetAddressBytes().Length * 8;
            return new AddressRange(address, parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : bits);
        }

        public bool Contains(IPAddress candidate)
        {
            var a = Network.GetAddressBytes();
            var b = candidate.GetAddressBytes();
            if (a.Length != b.Length)
            {
                return false;
            }
            var bitsLeft = PrefixLength;
            for (var i = 0; i < a.Length && bitsLeft > 0; i++, bitsLeft -= 8)
            {
                var mask = bitsLeft >= 8 ? 0xFF : (byte)(0xFF << (8 - bitsLeft));
                if ((a[i] & mask) != (b[i] & mask))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
