using System.Globalization;
using System.Text;
using MedVision.Dicom.IO;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Dicom.Deidentification;

/// <summary>
/// De-identifies instances per PS3.15 Annex E, Basic Application Level Confidentiality Profile, with the options of
/// <see cref="DeidentificationOptions"/>. Every action comes from <see cref="ConfidentialityProfile"/> (Table E.1-1 as
/// data); this class only says what each action code does to a value. Stateless between calls and thread-safe.
/// </summary>
/// <remarks>
/// Where the table leaves the choice to the attribute's type in the IOD (X/Z, X/D, Z/D, X/Z/D) we do not know the
/// IOD, so we take the choice that keeps any IOD valid: a dummy value where D is allowed, else zero length. Patient's
/// Name and Patient ID get the keyed pseudonym as that dummy value. Removing Overlay Data removes the rest of its
/// overlay group too, since an overlay plane without its data is not a valid module.
/// </remarks>
public sealed partial class Deidentifier
{
    private const string RegistryRoot = "1.2.840.10008.";
    private const string DummyText = "ANONYMIZED";

    private static readonly DicomTag OverlayData = new(0x6000, 0x3000);

    private static readonly (ProfileOption? Option, string Code, string Meaning)[] MethodCodes =
    [
        (null, "113100", "Basic Application Confidentiality Profile"),
        (ProfileOption.CleanDescriptors, "113105", "Clean Descriptors Option"),
        (ProfileOption.RetainLongitudinalFullDates, "113106", "Retain Longitudinal Temporal Information Full Dates Option"),
        (ProfileOption.RetainLongitudinalModifiedDates, "113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
        (ProfileOption.RetainPatientCharacteristics, "113108", "Retain Patient Characteristics Option"),
        (ProfileOption.RetainDeviceIdentity, "113109", "Retain Device Identity Option"),
        (ProfileOption.RetainUids, "113110", "Retain UIDs Option"),
        (ProfileOption.RetainSafePrivate, "113111", "Retain Safe Private Option"),
        (ProfileOption.RetainInstitutionIdentity, "113112", "Retain Institution Identity Option"),
    ];

    private readonly DeidentificationOptions _options;
    private readonly DeidentificationKey _key;
    private readonly ConfidentialityProfile _profile;
    private readonly IReadOnlySet<ProfileOption> _enabled;
    private readonly HashSet<string> _safeCreators;
    private readonly ILogger _logger;

    public Deidentifier(DeidentificationOptions options, DeidentificationKey key, ConfidentialityProfile? profile = null, ILogger<Deidentifier>? logger = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }
        _options = options;
        _key = key;
        _profile = profile ?? ConfidentialityProfile.Basic;
        _enabled = options.EnabledOptions();
        _safeCreators = new HashSet<string>(options.SafePrivateCreators.Select(c => c.Trim()), StringComparer.Ordinal);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>De-identifies a file: a new dataset and a new meta group carrying the replacement SOP Instance UID.</summary>
    public DeidentificationResult Deidentify(DicomFile file)
    {
        var (dataset, report) = Deidentify(file.Dataset);
        var sopClass = dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? file.FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPClassUID) ?? string.Empty;
        var sopInstance = dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)
            ?? (file.FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPInstanceUID) is { } metaUid ? MapUid(metaUid) : string.Empty);
        // The meta group is rebuilt rather than cleaned: its Source AE Title and implementation identify the sender.
        var meta = DicomFile.CreateFileMetaInfo(sopClass, sopInstance, file.TransferSyntax);
        return new DeidentificationResult(new DicomFile(meta, dataset, file.TransferSyntax, null, file.Warnings), report);
    }

    /// <summary>De-identifies a dataset into a new one; the source is not changed.</summary>
    public (DicomDataset Dataset, DeidentificationReport Report) Deidentify(DicomDataset source)
    {
        var report = new DeidentificationReport();
        var instance = source.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? "(no SOP Instance UID)";
        if (string.Equals(TextOf(source, DicomTags.BurnedInAnnotation), "YES", StringComparison.OrdinalIgnoreCase))
        {
            if (_options.BurnedInAnnotation == BurnedInAnnotationPolicy.Refuse)
            {
                LogRefusedBurnedIn(_logger, instance);
                throw new DeidentificationRefusedException(
                    "Burned In Annotation is YES: the pixels may show identifying text, which the Basic Profile does not clean.");
            }
            LogFlaggedBurnedIn(_logger, instance);
            report.Warn("Burned In Annotation is YES: identifying text may remain in the pixel data.");
        }

        var identity = TextOf(source, DicomTags.PatientID) ?? TextOf(source, DicomTags.PatientName);
        var context = new Context(
            report,
            identity,
            identity is null ? 0 : _key.DateShiftDays(identity, _options.MaxDateShiftDays),
            _enabled.Contains(ProfileOption.CleanDescriptors) || _enabled.Contains(ProfileOption.RetainDeviceIdentity) ||
            _enabled.Contains(ProfileOption.RetainPatientCharacteristics) ? IdentifyingTokens(source) : []);
        var output = Process(source, DicomCharacterSet.Default, string.Empty, context, 0);
        AddMethod(output, report);
        LogDeidentified(_logger, output.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? "(none)", report.Entries.Count, report.Warnings.Count);
        return (output, report);
    }

    private sealed record Context(DeidentificationReport Report, string? Identity, int ShiftDays, IReadOnlyList<string> Tokens);

    private DicomDataset Process(DicomDataset source, Encoding inherited, string path, Context context, int depth)
    {
        var encoding = DicomValueText.EncodingOf(source, inherited);
        var output = new DicomDataset { InheritedEncoding = encoding };
        var removedOverlayGroups = new HashSet<ushort>();
        foreach (var original in source)
        {
            var tag = original.Tag;
            if (tag.IsGroupLength)
            {
                continue;
            }
            var item = ResolveUnknown(original);
            var where = $"{path}{tag}";
            if (tag.IsPrivate)
            {
                if (KeepPrivate(source, tag))
                {
                    output.AddOrUpdate(item);
                }
                else
                {
                    context.Report.Add(new DeidentificationEntry(where, tag, "Private Attribute", "X", DeidentificationAction.Removed));
                }
                continue;
            }
            if (!_profile.TryGetRule(tag, out var rule))
            {
                output.AddOrUpdate(item is DicomSequence s ? Recurse(s, encoding, where, context, depth) : item);
                continue;
            }
            var code = rule.ActionFor(_enabled);
            var result = Apply(item, rule, code, output, encoding, where, context, depth);
            if (result is null)
            {
                if (item.Tag.Group >> 8 == 0x60 && (item.Tag.Value & 0xFF00FFFF) == OverlayData.Value)
                {
                    removedOverlayGroups.Add(item.Tag.Group);
                }
                continue;
            }
            output.AddOrUpdate(result);
        }
        if (removedOverlayGroups.Count > 0)
        {
            foreach (var orphan in output.Where(i => removedOverlayGroups.Contains(i.Tag.Group)).ToList())
            {
                output.Remove(orphan.Tag);
                context.Report.Add(new DeidentificationEntry($"{path}{orphan.Tag}", orphan.Tag, Name(orphan.Tag), "X", DeidentificationAction.Removed));
            }
        }
        return output;
    }

    /// <summary>Applies one action code to one attribute; null removes it.</summary>
    private DicomItem? Apply(DicomItem item, ProfileRule rule, string code, DicomDataset output, Encoding encoding, string where, Context context, int depth)
    {
        var report = context.Report;
        var effective = code switch
        {
            "Z/D" or "X/D" or "X/Z/D" => "D",
            "X/Z" => "Z",
            "X/Z/U*" => "U",
            _ => code,
        };
        switch (effective)
        {
            case "K":
                return item is DicomSequence kept ? Recurse(kept, encoding, where, context, depth) : item;
            case "X":
                report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.Removed));
                return null;
        }
        if (item is DicomSequence sequence)
        {
            if (effective == "Z")
            {
                if (sequence.Items.Count > 0)
                {
                    report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.Emptied));
                }
                return new DicomSequence(item.Tag);
            }
            // D, U and C on a sequence: keep its structure and apply the table to every attribute of its items.
            return Recurse(sequence, encoding, where, context, depth);
        }
        if (item is not DicomElement element)
        {
            // Encapsulated pixel data is not in the table; anything else binary without a rule is kept.
            return item;
        }
        var isPatient = depth == 0 && (item.Tag == DicomTags.PatientName || item.Tag == DicomTags.PatientID) && context.Identity is not null;
        switch (effective)
        {
            case "Z" when isPatient:
            case "D" when isPatient:
                report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.Pseudonymized));
                return Text(item.Tag, element.VR, _key.Pseudonym(_options.PseudonymPrefix, context.Identity!), encoding);
            case "Z":
                if (element.Length > 0)
                {
                    report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.Emptied));
                }
                return new DicomElement(item.Tag, element.VR, MemoryByteBuffer.Empty);
            case "U" when element.VR == DicomVR.UI:
            case "D" when element.VR == DicomVR.UI:
                var uids = DicomValueText.Values(element, Encoding.ASCII);
                if (uids.Length == 0 && effective == "U")
                {
                    return element;
                }
                var mapped = uids.Length == 0 ? MapUid(where) : string.Join('\\', uids.Select(MapUid));
                if (mapped == string.Join('\\', uids))
                {
                    return element; // Registry UIDs (and everything under Retain UIDs) stay as they are.
                }
                report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.UidReplaced));
                return Text(item.Tag, DicomVR.UI, mapped, Encoding.ASCII);
            case "U":
            case "D":
                report.Add(new DeidentificationEntry(where, item.Tag, rule.Name, code, DeidentificationAction.ReplacedWithDummy));
                return Dummy(element, encoding);
            case "C":
                return Clean(element, rule, code, encoding, where, context);
            default:
                throw new InvalidOperationException($"Action '{code}' of {rule.Name} is not implemented.");
        }
    }

    /// <summary>
    /// A standard attribute that arrived as UN (explicit VR UN, PS3.5 6.2.2) holds its value as implicit VR little
    /// endian would; give it the dictionary's VR so its value can be judged and replaced as what it is.
    /// </summary>
    private static string? TextOf(DicomDataset dataset, DicomTag tag) =>
        dataset[tag] is { } item && ResolveUnknown(item) is DicomElement { VR.IsString: true, Length: > 0 } element &&
        element.GetText(dataset.Encoding).Trim() is { Length: > 0 } text ? text : null;

    private static DicomItem ResolveUnknown(DicomItem item)
    {
        if (item is DicomElement { VR: var vr } element && vr == DicomVR.UN && !item.Tag.IsPrivate &&
            DicomDictionary.Default.TryGetEntry(item.Tag, out var entry) && entry.VRs.Count == 1 && entry.VR != DicomVR.SQ && entry.VR != DicomVR.UN)
        {
            return new DicomElement(item.Tag, entry.VR, element.Buffer);
        }
        return item;
    }

    private DicomSequence Recurse(DicomSequence sequence, Encoding encoding, string where, Context context, int depth)
    {
        var copy = new DicomSequence(sequence.Tag);
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            copy.Items.Add(Process(sequence.Items[i], encoding, $"{where}[{i}]/", context, depth + 1));
        }
        return copy;
    }

    /// <summary>
    /// C: dates move back by the patient's keyed shift (Modified Dates Option); text keeps what it says but not the
    /// identifying values found elsewhere in the instance (names, IDs, institution…), which are masked.
    /// </summary>
    private DicomElement Clean(DicomElement element, ProfileRule rule, string code, Encoding encoding, string where, Context context)
    {
        var vr = element.VR;
        if ((vr == DicomVR.DA || vr == DicomVR.DT) && _enabled.Contains(ProfileOption.RetainLongitudinalModifiedDates))
        {
            var values = DicomValueText.Values(element, Encoding.ASCII);
            var shifted = values.Select(v => ShiftDate(v, context.ShiftDays)).ToArray();
            if (shifted.SequenceEqual(values))
            {
                return element;
            }
            context.Report.Add(new DeidentificationEntry(where, element.Tag, rule.Name, code, DeidentificationAction.DateShifted));
            return Text(element.Tag, vr, string.Join('\\', shifted), Encoding.ASCII);
        }
        if (vr == DicomVR.TM || !vr.IsString || vr == DicomVR.UI || context.Tokens.Count == 0)
        {
            return element;
        }
        var text = element.GetText(encoding);
        var cleaned = text;
        foreach (var token in context.Tokens)
        {
            cleaned = cleaned.Replace(token, new string('*', token.Length), StringComparison.OrdinalIgnoreCase);
        }
        if (cleaned == text)
        {
            return element;
        }
        context.Report.Add(new DeidentificationEntry(where, element.Tag, rule.Name, code, DeidentificationAction.Cleaned));
        return Text(element.Tag, vr, cleaned, encoding);
    }

    /// <summary>A date (DA) or the date part of a DT moved back by <paramref name="days"/>; values that are not dates are emptied.</summary>
    private static string ShiftDate(string value, int days)
    {
        if (value.Length < 8 || !DateTime.TryParseExact(value[..8], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return string.Empty;
        }
        var moved = date.AddDays(-days);
        return moved.ToString("yyyyMMdd", CultureInfo.InvariantCulture) + value[8..];
    }

    /// <summary>Values that identify the patient or the site, gathered from every attribute the profile does not keep, for cleaning free text.</summary>
    private List<string> IdentifyingTokens(DicomDataset source)
    {
        var tokens = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        Collect(source, DicomCharacterSet.Default);
        return [.. tokens.OrderByDescending(t => t.Length)];

        void Collect(DicomDataset dataset, Encoding inherited)
        {
            var encoding = DicomValueText.EncodingOf(dataset, inherited);
            foreach (var item in dataset)
            {
                if (item is DicomSequence sequence)
                {
                    foreach (var nested in sequence.Items)
                    {
                        Collect(nested, encoding);
                    }
                    continue;
                }
                // Identifiers are what the profile removes or replaces even with the options on; what it keeps or
                // cleans (descriptions) is not an identifier, and codes and numbers would mask ordinary words.
                if (ResolveUnknown(item) is not DicomElement { VR.IsString: true } element || !_profile.TryGetRule(item.Tag, out var rule) ||
                    rule.ActionFor(_enabled) is "K" or "C" || element.VR == DicomVR.UI || element.VR == DicomVR.CS ||
                    element.VR == DicomVR.AS || element.VR == DicomVR.DS || element.VR == DicomVR.IS)
                {
                    continue;
                }
                foreach (var value in DicomValueText.Values(element, encoding))
                {
                    // Person names are masked component by component: "Doe" appears in notes without "^John".
                    var parts = element.VR == DicomVR.PN ? value.Split('^', '=') : [value];
                    foreach (var part in parts.Select(p => p.Trim()).Where(p => p.Length >= 3))
                    {
                        tokens.Add(part);
                    }
                }
            }
        }
    }

    private bool KeepPrivate(DicomDataset source, DicomTag tag)
    {
        if (_safeCreators.Count == 0)
        {
            return false;
        }
        string? creator;
        if (tag.IsPrivateCreator)
        {
            creator = source.GetStringOrDefault(tag);
        }
        else
        {
            var block = (ushort)(tag.Element >> 8);
            creator = block is >= 0x10 and <= 0xFF ? source.GetStringOrDefault(new DicomTag(tag.Group, block)) : null;
        }
        return creator is not null && _safeCreators.Contains(creator.Trim());
    }

    private string MapUid(string uid) =>
        _enabled.Contains(ProfileOption.RetainUids) || uid.StartsWith(RegistryRoot, StringComparison.Ordinal) ? uid : _key.MapUid(uid);

    /// <summary>A non-empty value of the element's VR that says nothing (D).</summary>
    private static DicomElement Dummy(DicomElement element, Encoding encoding)
    {
        var vr = element.VR;
        if (vr.IsString)
        {
            var text = vr.Code switch
            {
                "DA" => "19000101",
                "DT" => "19000101000000",
                "TM" => "000000",
                "AS" => "000Y",
                "DS" or "IS" => "0",
                "UR" => "urn:anonymized",
                _ => DummyText,
            };
            return Text(element.Tag, vr, text, encoding);
        }
        var size = vr == DicomVR.AT ? 4 : Math.Max(2, vr.UnitSize);
        return new DicomElement(element.Tag, vr, new MemoryByteBuffer(new byte[size]));
    }

    private static DicomElement Text(DicomTag tag, DicomVR vr, string text, Encoding encoding)
    {
        var bytes = (DicomElement.UsesCharacterSet(vr) ? encoding : Encoding.ASCII).GetBytes(text);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = vr.PaddingByte;
        }
        return new DicomElement(tag, vr, new MemoryByteBuffer(bytes));
    }

    /// <summary>PS3.15 E.1.1 items 6-7 and E.3: say that and how the instance was de-identified.</summary>
    private void AddMethod(DicomDataset output, DeidentificationReport report)
    {
        var codes = MethodCodes.Where(c => c.Option is null || _enabled.Contains(c.Option.Value)).ToList();
        output.AddOrUpdate(DicomTags.PatientIdentityRemoved, DicomVR.CS, "YES");
        output.AddOrUpdate(DicomTags.DeidentificationMethod, DicomVR.LO, string.Join('\\', codes.Select(c => c.Meaning)));
        output.AddOrUpdate(new DicomSequence(DicomTags.DeidentificationMethodCodeSequence, codes.Select(c => new DicomDataset()
            .AddOrUpdate(DicomTags.CodeValue, DicomVR.SH, c.Code)
            .AddOrUpdate(DicomTags.CodingSchemeDesignator, DicomVR.SH, "DCM")
            .AddOrUpdate(DicomTags.CodeMeaning, DicomVR.LO, c.Meaning))));
        var temporal = _enabled.Contains(ProfileOption.RetainLongitudinalFullDates) ? "UNMODIFIED"
            : _enabled.Contains(ProfileOption.RetainLongitudinalModifiedDates) ? "MODIFIED" : "REMOVED";
        output.AddOrUpdate(DicomTags.LongitudinalTemporalInformationModified, DicomVR.CS, temporal);
        foreach (var tag in new[] { DicomTags.PatientIdentityRemoved, DicomTags.DeidentificationMethod, DicomTags.DeidentificationMethodCodeSequence, DicomTags.LongitudinalTemporalInformationModified })
        {
            report.Add(new DeidentificationEntry(tag.ToString(), tag, Name(tag), "+", DeidentificationAction.Added));
        }
    }

    private static string Name(DicomTag tag) => DicomDictionary.Default.TryGetEntry(tag, out var entry) ? entry.Name ?? entry.Keyword : tag.ToString();

    [LoggerMessage(EventId = 5600, Level = LogLevel.Debug, Message = "De-identified instance {SopInstanceUid}: {Changes} attributes changed, {Warnings} warnings")]
    private static partial void LogDeidentified(ILogger logger, string sopInstanceUid, int changes, int warnings);

    [LoggerMessage(EventId = 5601, Level = LogLevel.Warning, Message = "Refused to de-identify {SopInstanceUid}: Burned In Annotation is YES")]
    private static partial void LogRefusedBurnedIn(ILogger logger, string sopInstanceUid);

    [LoggerMessage(EventId = 5602, Level = LogLevel.Warning, Message = "De-identified {SopInstanceUid} with Burned In Annotation YES: pixel data not cleaned")]
    private static partial void LogFlaggedBurnedIn(ILogger logger, string sopInstanceUid);
}
