using System.Text.Json;
using System.Text.Json.Serialization;

namespace MedVision.Contracts;

/// <summary>Message type names: the last topic level and <see cref="MessageEnvelope.Type"/>.</summary>
public static class MessageTypes
{
    public const string Finding = "finding";
    public const string Heartbeat = "heartbeat";
    public const string ModelUpdate = "modelUpdate";
    public const string Reported = "reported";
    public const string Feedback = "feedback";
}

/// <summary>
/// Every device → hub message. <see cref="MessageId"/> is the idempotency key: the device keeps it across retries,
/// and the hub stores a (device, message id) pair once however often it arrives.
/// </summary>
/// <param name="SchemaVersion">Version of the body's contract; the hub refuses versions it does not know.</param>
public sealed record MessageEnvelope(
    int SchemaVersion,
    string MessageId,
    string DeviceId,
    string Type,
    DateTimeOffset CreatedUtc,
    JsonElement Body)
{
    public const int CurrentSchemaVersion = 1;
}

/// <summary>
/// A de-identified finding, version 1. Carries no patient name, patient ID, birth date, accession number, real UID
/// or study date: the study, instance and patient are keyed per-site pseudonyms (HMAC-SHA256 under the site secret),
/// so the hub can group findings of one study without being able to identify it.
/// </summary>
public sealed record FindingV1(
    string StudyPseudonym,
    string InstancePseudonym,
    string PatientPseudonym,
    string? Modality,
    string ModelId,
    string ModelVersion,
    string ModelSha256,
    string Label,
    double Probability,
    double Threshold,
    bool Positive,
    string ExecutionProvider,
    double? InferenceMs,
    DateTimeOffset FoundUtc);

/// <summary>
/// A radiologist's verdict on a finding, version 1 (active learning). De-identified like <see cref="FindingV1"/>: the
/// study and instance are the same keyed pseudonyms, and <see cref="FindingMessageId"/> is the message id of the finding
/// it judges, so the ML team can join the two. It never carries who reviewed or their comment: names identify staff, and
/// free text typed next to an image can hold anything, patient details included. Each review is its own message; a
/// later one for the same finding (higher <see cref="ReviewedUtc"/>) supersedes the earlier.
/// </summary>
/// <param name="Decision"><see cref="FeedbackDecisions.Confirmed"/> or <see cref="FeedbackDecisions.Rejected"/>.</param>
public sealed record FeedbackV1(
    string StudyPseudonym,
    string InstancePseudonym,
    string FindingMessageId,
    string? Modality,
    string ModelId,
    string ModelVersion,
    string ModelSha256,
    string Label,
    double Probability,
    double Threshold,
    bool Positive,
    string Decision,
    DateTimeOffset ReviewedUtc);

/// <summary>The decisions a <see cref="FeedbackV1"/> may carry.</summary>
public static class FeedbackDecisions
{
    public const string Confirmed = "confirmed";
    public const string Rejected = "rejected";

    public static bool IsKnown(string? decision) => decision is Confirmed or Rejected;
}

/// <summary>Fleet health, version 1: what an appliance reports on its heartbeat timer.</summary>
public sealed record HeartbeatV1(
    string SoftwareVersion,
    IReadOnlyList<ModelVersionV1> Models,
    double UptimeSeconds,
    long? DiskFreeBytes,
    long SpoolDepth,
    long OutboxDepth,
    long FindingsTotal,
    double? InferenceMsAverage,
    string? ExecutionProvider);

public sealed record ModelVersionV1(string Id, string Version, string Sha256);

/// <summary>
/// Hub → device on <c>devices/{id}/models/offer</c>: a model package (a zip of the package folder) to fetch in chunks
/// from <see cref="ContentPath"/> (HTTP Range requests to the hub, device credentials as Basic authentication).
/// </summary>
public sealed record ModelOfferV1(string PackageId, string Name, string Sha256, long SizeBytes, string ContentPath, int ChunkBytes);

/// <summary>Device → hub: what became of an offered package. <see cref="Status"/> is <c>active</c> or <c>rejected</c>.</summary>
public sealed record ModelUpdateV1(string PackageId, string Name, string Sha256, string Status, string? Reason, string? ModelId, string? ModelVersion);

/// <summary>
/// Hub → device on <c>devices/{id}/twin/desired</c> (retained): the settings the operator wants, with a version that
/// only grows. Keys the appliance knows: <c>heartbeatSeconds</c>, <c>maxOutboxMessages</c>.
/// </summary>
public sealed record DesiredPropertiesV1(long Version, IReadOnlyDictionary<string, JsonElement> Properties);

/// <summary>Device → hub (event type <c>reported</c>): which desired version it applied, with what it refused and why.</summary>
public sealed record ReportedPropertiesV1(long Version, IReadOnlyDictionary<string, JsonElement> Applied, IReadOnlyDictionary<string, string> Rejected);

/// <summary>POST /api/enrol: an appliance exchanges the operator's one-time enrolment token for its credentials.</summary>
public sealed record EnrolmentRequest(string Token, string? Hostname);

/// <summary>The device's MQTT identity: client id = user name = <see cref="DeviceId"/>, password = <see cref="Password"/>.</summary>
public sealed record EnrolmentResponse(string DeviceId, string SiteId, string Password);

/// <summary>POST /api/enrolments (operator): creates a one-time token for a new appliance of a site.</summary>
public sealed record EnrolmentTokenRequest(string SiteId, string? DeviceId, int? ValidHours);

public sealed record EnrolmentTokenResponse(string Token, string DeviceId, string SiteId, DateTimeOffset ExpiresUtc);

/// <summary>JSON settings both sides use for contracts: camelCase, ISO dates.</summary>
public static class ContractJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static MessageEnvelope CreateEnvelope<T>(string messageId, string deviceId, string type, DateTimeOffset createdUtc, T body) =>
        new(MessageEnvelope.CurrentSchemaVersion, messageId, deviceId, type, createdUtc, JsonSerializer.SerializeToElement(body, Options));
}
