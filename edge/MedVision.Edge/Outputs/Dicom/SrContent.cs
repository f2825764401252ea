using MedVision.Dicom;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>Content items of an SR content tree (PS3.3 C.17.3), built as sequence items.</summary>
internal static class SrContent
{
    public const string Contains = "CONTAINS";
    public const string HasObsContext = "HAS OBS CONTEXT";
    public const string HasConceptMod = "HAS CONCEPT MOD";
    public const string HasProperties = "HAS PROPERTIES";
    public const string InferredFrom = "INFERRED FROM";

    public static DicomDataset Container(string relationship, Code name, IEnumerable<DicomDataset> children, string? templateId = null)
    {
        var item = Start(relationship, "CONTAINER", name);
        item.Text(DicomTags.ContinuityOfContent, DicomVR.CS, "SEPARATE");
        if (templateId is not null)
        {
            item.Sequence(DicomTags.ContentTemplateSequence, Template(templateId));
        }
        item.Sequence(DicomTags.ContentSequence, children);
        return item;
    }

    public static DicomDataset Template(string templateId) =>
        DicomBuild.Item().Text(DicomTags.MappingResource, DicomVR.CS, "DCMR").Text(DicomTags.TemplateIdentifier, DicomVR.CS, templateId);

    public static DicomDataset CodeItem(string relationship, Code name, Code value) =>
        Start(relationship, "CODE", name).CodeSequence(DicomTags.ConceptCodeSequence, value);

    public static DicomDataset TextItem(string relationship, Code name, string value) =>
        Start(relationship, "TEXT", name).Text(DicomTags.TextValue, DicomVR.UT, value);

    public static DicomDataset UidItem(string relationship, Code name, string uid) =>
        Start(relationship, "UIDREF", name).Text(DicomTags.UID, DicomVR.UI, uid);

    public static DicomDataset DateItem(string relationship, Code name, string date) =>
        Start(relationship, "DATE", name).Text(DicomTags.Date, DicomVR.DA, date);

    public static DicomDataset NumItem(string relationship, Code name, double value, Code unit)
    {
        var measured = DicomBuild.Item()
            .CodeSequence(DicomTags.MeasurementUnitsCodeSequence, unit)
            .Decimal(DicomTags.NumericValue, value);
        measured.Double(DicomTags.FloatingPointValue, value);
        return Start(relationship, "NUM", name).Sequence(DicomTags.MeasuredValueSequence, measured);
    }

    public static DicomDataset ImageItem(string relationship, Code? name, string sopClassUid, string sopInstanceUid)
    {
        var item = DicomBuild.Item().Text(DicomTags.RelationshipType, DicomVR.CS, relationship).Text(DicomTags.ValueType, DicomVR.CS, "IMAGE");
        if (name is not null)
        {
            item.CodeSequence(DicomTags.ConceptNameCodeSequence, name);
        }
        return item.Sequence(DicomTags.ReferencedSOPSequence, Reference(sopClassUid, sopInstanceUid));
    }

    public static DicomDataset Reference(string sopClassUid, string sopInstanceUid) =>
        DicomBuild.Item()
            .Text(DicomTags.ReferencedSOPClassUID, DicomVR.UI, sopClassUid)
            .Text(DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, sopInstanceUid);

    private static DicomDataset Start(string relationship, string valueType, Code name) =>
        DicomBuild.Item()
            .Text(DicomTags.RelationshipType, DicomVR.CS, relationship)
            .Text(DicomTags.ValueType, DicomVR.CS, valueType)
            .CodeSequence(DicomTags.ConceptNameCodeSequence, name);
}

/// <summary>The codes the SR uses: DCM (PS3.16), SNOMED CT, UCUM, and the appliance's own 99MEDVISION scheme for what none defines.</summary>
internal static class SrCodes
{
    public const string LocalScheme = "99MEDVISION";

    /// <summary>Coding Scheme Identification item declaring the private scheme (PS3.3 C.12.1.1.2: designators starting with 99 are local).</summary>
    public static DicomDataset LocalSchemeIdentification(string organisation) =>
        DicomBuild.Item()
            .Text(DicomTags.CodingSchemeDesignator, DicomVR.SH, LocalScheme)
            .Text(DicomTags.CodingSchemeName, DicomVR.ST, "MedVision Edge AI result concepts")
            .Text(DicomTags.CodingSchemeResponsibleOrganization, DicomVR.ST, organisation);

    public static readonly Code ImagingMeasurementReport = new("126000", "DCM", "Imaging Measurement Report");
    public static readonly Code LanguageOfContent = new("121049", "DCM", "Language of Content Item and Descendants");
    public static readonly Code EnglishUs = new("en-US", "RFC5646", "English, United States");
    public static readonly Code ObserverType = new("121005", "DCM", "Observer Type");
    public static readonly Code Device = new("121007", "DCM", "Device");
    public static readonly Code DeviceObserverUid = new("121012", "DCM", "Device Observer UID");
    public static readonly Code DeviceObserverName = new("121013", "DCM", "Device Observer Name");
    public static readonly Code DeviceObserverManufacturer = new("121014", "DCM", "Device Observer Manufacturer");
    public static readonly Code DeviceObserverModelName = new("121015", "DCM", "Device Observer Model Name");
    public static readonly Code DeviceObserverSerialNumber = new("121016", "DCM", "Device Observer Serial Number");
    public static readonly Code ProcedureReported = new("121058", "DCM", "Procedure reported");
    public static readonly Code ImageLibrary = new("111028", "DCM", "Image Library");
    public static readonly Code ImageLibraryGroup = new("126200", "DCM", "Image Library Group");
    public static readonly Code Modality = new("121139", "DCM", "Modality");
    public static readonly Code StudyInstanceUid = new("110180", "DCM", "Study Instance UID");
    public static readonly Code SeriesInstanceUid = new("112002", "DCM", "Series Instance UID");
    public static readonly Code ImagingMeasurements = new("126010", "DCM", "Imaging Measurements");
    public static readonly Code MeasurementGroup = new("125007", "DCM", "Measurement Group");
    public static readonly Code TrackingIdentifier = new("112039", "DCM", "Tracking Identifier");
    public static readonly Code TrackingUniqueIdentifier = new("112040", "DCM", "Tracking Unique Identifier");
    public static readonly Code Finding = new("121071", "DCM", "Finding");
    public static readonly Code SourceOfMeasurement = new("121112", "DCM", "Source of Measurement");
    public static readonly Code AlgorithmName = new("111001", "DCM", "Algorithm Name");
    public static readonly Code AlgorithmVersion = new("111003", "DCM", "Algorithm Version");
    public static readonly Code AlgorithmParameters = new("111002", "DCM", "Algorithm Parameters");
    public static readonly Code Comment = new("121106", "DCM", "Comment");
    public static readonly Code Positive = new("10828004", "SCT", "Positive");
    public static readonly Code Negative = new("260385009", "SCT", "Negative");
    public static readonly Code ProbabilityUnit = new("{probability}", "UCUM", "probability");

    public static readonly Code Probability = new("PROBABILITY", LocalScheme, "AI probability of finding");
    public static readonly Code DecisionThreshold = new("THRESHOLD", LocalScheme, "AI decision threshold");
    public static readonly Code Decision = new("DECISION", LocalScheme, "AI decision");
    public static readonly Code Heatmap = new("HEATMAP", LocalScheme, "AI class activation heat map");
    public static readonly Code ChangeSincePrior = new("CHANGE", LocalScheme, "Change since prior study");
    public static readonly Code PriorStudy = new("PRIORSTUDY", LocalScheme, "Prior study compared");
    public static readonly Code PriorStudyDate = new("PRIORDATE", LocalScheme, "Prior study date");
    public static readonly Code PriorProbability = new("PRIORPROB", LocalScheme, "AI probability in prior study");

    public static Code Change(string change) => change switch
    {
        FindingChanges.New => new("NEW", LocalScheme, "New since prior"),
        FindingChanges.Resolved => new("RESOLVED", LocalScheme, "Resolved since prior"),
        _ => new("UNCHANGED", LocalScheme, "Unchanged since prior"),
    };

    /// <summary>FHIR-style system URIs of the label codings mapped to DICOM coding scheme designators.</summary>
    public static Code FromConcept(CodedConcept concept) => new(concept.Code, concept.System switch
    {
        "http://snomed.info/sct" => "SCT",
        "http://loinc.org" => "LN",
        "http://radlex.org" or "http://www.radlex.org" => "RADLEX",
        "http://unitsofmeasure.org" => "UCUM",
        _ => LocalScheme,
    }, concept.Display);

    public static Code ProcedureFor(string? modality) => modality?.Trim().ToUpperInvariant() switch
    {
        "CR" or "DX" => new("168537006", "SCT", "Plain radiography"),
        "US" => new("16310003", "SCT", "Ultrasonography"),
        "CT" => new("77477000", "SCT", "CT"),
        "MR" => new("113091000", "SCT", "MRI"),
        _ => new("363679005", "SCT", "Imaging"),
    };

    public static Code ModalityCode(string modality) => new(modality, "DCM", modality switch
    {
        "CR" => "Computed Radiography",
        "DX" => "Digital Radiography",
        "US" => "Ultrasound",
        "CT" => "Computed Tomography",
        "MR" => "Magnetic Resonance",
        "MG" => "Mammography",
        _ => modality,
    });
}
