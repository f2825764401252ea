namespace MedVision.Dicom.Codecs;

/// <summary>
/// Transfer syntax UID → decoder. Immutable: <see cref="With"/> returns a new registry, so one instance can be
/// shared by every thread (and registered as a singleton).
/// </summary>
public sealed class DicomCodecRegistry
{
    private readonly Dictionary<string, IDicomCodec> _codecs = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<IDicomCodec> _registered;

    /// <summary>Later codecs win where two claim the same syntax.</summary>
    public DicomCodecRegistry(IEnumerable<IDicomCodec> codecs)
    {
        _registered = [.. codecs];
        foreach (var codec in _registered)
        {
            foreach (var uid in codec.TransferSyntaxUids)
            {
                _codecs[uid] = codec;
            }
        }
    }

    /// <summary>The built-in decoders: RLE and JPEG lossless in C#, the others through Debian's native libraries.</summary>
    public static DicomCodecRegistry Default { get; } = new(BuiltIn());

    public static IReadOnlyList<IDicomCodec> BuiltIn() =>
        [new RleCodec(), new JpegLosslessCodec(), new JpegTurboCodec(), new JpegLsCodec(), new Jpeg2000Codec()];

    public IReadOnlyCollection<string> TransferSyntaxUids => _codecs.Keys;

    /// <summary>A registry where <paramref name="codec"/> takes over the syntaxes it claims.</summary>
    public DicomCodecRegistry With(IDicomCodec codec) => new([.. _registered, codec]);

    public bool TryGetCodec(string transferSyntaxUid, out IDicomCodec codec) =>
        _codecs.TryGetValue(transferSyntaxUid, out codec!);

    public IDicomCodec GetCodec(DicomTransferSyntax syntax) =>
        TryGetCodec(syntax.Uid, out var codec)
            ? codec
            : throw new DicomCodecException($"No decoder for {syntax.Name} ({syntax.Uid}); supported compressed syntaxes: {string.Join(", ", _codecs.Keys.Order(StringComparer.Ordinal))}.", syntax.Uid);
}
