namespace MedVision.Dicom.Deidentification;

/// <summary>What to do with an instance whose Burned In Annotation (0028,0301) is YES: the Basic Profile does not clean pixels.</summary>
public enum BurnedInAnnotationPolicy
{
    /// <summary>Refuse to de-identify it (<see cref="DeidentificationRefusedException"/>).</summary>
    Refuse,

    /// <summary>De-identify the attributes and flag the instance in the report.</summary>
    Flag,
}

/// <summary>
/// De-identification settings (section <c>MedVision:Deidentification</c>): the Basic Application Level
/// Confidentiality Profile of PS3.15 E.1 plus the options chosen here.
/// </summary>
public sealed class DeidentificationOptions
{
    public const string Section = "MedVision:Deidentification";

    /// <summary>Retain Longitudinal Temporal Information, Full Dates Option: dates and times are kept.</summary>
    public bool RetainLongitudinalFullDates { get; set; }

    /// <summary>Retain Longitudinal Temporal Information, Modified Dates Option: dates move by a keyed per-patient number of days.</summary>
    public bool ShiftDates { get; set; }

    /// <summary>Clean Descriptors Option: descriptions are kept with identifying values of the same instance masked.</summary>
    public bool CleanDescriptors { get; set; }

    /// <summary>Retain Device Identity Option.</summary>
    public bool RetainDeviceIdentity { get; set; }

    /// <summary>Retain Institution Identity Option.</summary>
    public bool RetainInstitutionIdentity { get; set; }

    /// <summary>Retain Patient Characteristics Option (sex, age, size, weight…).</summary>
    public bool RetainPatientCharacteristics { get; set; }

    /// <summary>Retain UIDs Option: UIDs are not remapped.</summary>
    public bool RetainUids { get; set; }

    /// <summary>
    /// Private creators whose blocks are known to hold no identifying data (Retain Safe Private Option). Every other
    /// private attribute is removed; empty removes them all.
    /// </summary>
    public List<string> SafePrivateCreators { get; set; } = [];

    public BurnedInAnnotationPolicy BurnedInAnnotation { get; set; } = BurnedInAnnotationPolicy.Refuse;

    /// <summary>Prefix of patient pseudonyms (Patient's Name, Patient ID).</summary>
    public string PseudonymPrefix { get; set; } = "MV";

    /// <summary>Largest shift in days for <see cref="ShiftDates"/>; dates move back by 1 to this many days.</summary>
    public int MaxDateShiftDays { get; set; } = 3650;

    /// <summary>Secret key file of this site (at least 16 bytes): UIDs, pseudonyms and date shifts are derived from it.</summary>
    public string? KeyFile { get; set; }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (RetainLongitudinalFullDates && ShiftDates)
        {
            errors.Add($"{Section}: RetainLongitudinalFullDates and ShiftDates exclude each other.");
        }
        if (MaxDateShiftDays is < 1 or > 36500)
        {
            errors.Add($"{Section}:MaxDateShiftDays must be 1 to 36500, not {MaxDateShiftDays}.");
        }
        if (string.IsNullOrWhiteSpace(PseudonymPrefix) || PseudonymPrefix.Length > 16 || PseudonymPrefix.Any(c => c is '\\' or '^' or '=' || char.IsControl(c)))
        {
            errors.Add($"{Section}:PseudonymPrefix must be 1 to 16 characters without \\ ^ = or control characters.");
        }
        if (SafePrivateCreators.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{Section}:SafePrivateCreators has an empty entry.");
        }
        if (KeyFile is not null && !File.Exists(KeyFile))
        {
            errors.Add($"{Section}:KeyFile {KeyFile} does not exist.");
        }
        return errors;
    }

    /// <summary>The Table E.1-1 option columns these settings switch on.</summary>
    public IReadOnlySet<ProfileOption> EnabledOptions()
    {
        var set = new HashSet<ProfileOption>();
        if (RetainLongitudinalFullDates) set.Add(ProfileOption.RetainLongitudinalFullDates);
        if (ShiftDates) set.Add(ProfileOption.RetainLongitudinalModifiedDates);
        if (CleanDescriptors) set.Add(ProfileOption.CleanDescriptors);
        if (RetainDeviceIdentity) set.Add(ProfileOption.RetainDeviceIdentity);
        if (RetainInstitutionIdentity) set.Add(ProfileOption.RetainInstitutionIdentity);
        if (RetainPatientCharacteristics) set.Add(ProfileOption.RetainPatientCharacteristics);
        if (RetainUids) set.Add(ProfileOption.RetainUids);
        if (SafePrivateCreators.Count > 0) set.Add(ProfileOption.RetainSafePrivate);
        return set;
    }
}
