namespace MedVision.Edge.Fhir;

/// <summary>FHIR output log messages; event ids 5250-5299.</summary>
internal static partial class FhirLog
{
    [LoggerMessage(EventId = 5250, Level = LogLevel.Information, Message = "FHIR Bundle for study {StudyUid}: {Observations} Observation(s), {Bytes} bytes")]
    public static partial void BundleMade(ILogger logger, string studyUid, int observations, int bytes);

    [LoggerMessage(EventId = 5251, Level = LogLevel.Error, Message = "FHIR Bundle for study {StudyUid} failed validation: {Errors}")]
    public static partial void BundleInvalid(ILogger logger, string studyUid, string errors);

    [LoggerMessage(EventId = 5252, Level = LogLevel.Warning, Message = "Study {StudyUid}: {What} '{Uid}' is not a valid FHIR id and is left out of the ImagingStudy")]
    public static partial void UidSkipped(ILogger logger, string studyUid, string what, string uid);
}
