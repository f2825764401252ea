using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;

namespace MedVision.Dicom.Tests.Fuzz;

public enum MutationKind
{
    BitFlips,
    Truncate,
    CorruptLength,
    InsertBytes,
    DeleteBytes,
    InterestingValue,
}

/// <summary>One damaged input: which seed, what was done to it, and whether the reader sees a seekable stream.</summary>
public sealed record Mutation(int Seed, MutationKind Kind, int Position, uint Value, int Count, bool NonSeekable)
{
    // Values that break length arithmetic: zero, odd, undefined length, just past the end, sign-bit and near-max.
    private static readonly uint[] Interesting = [0, 1, 3, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF];

    internal byte[] Apply(FuzzCorpus corpus)
    {
        var seed = corpus.Seeds[Seed];
        var bytes = seed.Bytes;
        var position = Position % Math.Max(1, bytes.Length);
        switch (Kind)
        {
            case MutationKind.BitFlips:
            {
                var copy = (byte[])bytes.Clone();
                var random = new Random((int)Value);
                for (var i = 0; i < 1 + Count % 8; i++)
                {
                    copy[(position + random.Next(64)) % copy.Length] ^= (byte)(1 << random.Next(8));
                }
                return copy;
            }
            case MutationKind.Truncate:
                return bytes[..position];
            case MutationKind.CorruptLength:
            {
                var copy = (byte[])bytes.Clone();
                var at = seed.LengthFields[Position % seed.LengthFields.Length];
                var value = (Value & 1) == 0 ? Interesting[Count % Interesting.Length] : Value;
                if (at + 4 <= copy.Length)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), value);
                }
                else if (at + 2 <= copy.Length)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan(at), (ushort)value);
                }
                return copy;
            }
            case MutationKind.InsertBytes:
            {
                var random = new Random((int)Value);
                var inserted = new byte[1 + Count % 16];
                random.NextBytes(inserted);
                return [.. bytes.AsSpan(0, position), .. inserted, .. bytes.AsSpan(position)];
            }
            case MutationKind.DeleteBytes:
            {
                var end = Math.Min(bytes.Length, position + 1 + Count % 64);
                return [.. bytes.AsSpan(0, position), .. bytes.AsSpan(end)];
            }
            default:
            {
                var copy = (byte[])bytes.Clone();
                var value = Interesting[Count % Interesting.Length];
                if (position + 4 <= copy.Length)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(position), value);
                }
                return copy;
            }
        }
    }

    public override string ToString() => $"seed #{Seed} {Kind} at {Position} value 0x{Value:X8} count {Count}{(NonSeekable ? " (non-seekable)" : "")}";

    internal static Arbitrary<Mutation> Arbitrary(FuzzCorpus corpus) =>
        (from seed in Gen.Choose(0, corpus.Seeds.Count - 1)
         from kind in Gen.Elements(Enum.GetValues<MutationKind>())
         from position in Gen.Choose(0, Math.Max(0, corpus.Seeds[seed].Bytes.Length))
         from value in Gen.Choose(int.MinValue, int.MaxValue)
         from count in Gen.Choose(0, 1000)
         from nonSeekable in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
         select new Mutation(seed, kind, position, (uint)value, count, nonSeekable)).ToArbitrary();
}
