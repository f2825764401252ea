using System.Text;
using System.Text.Json;
using MedVision.Edge.Export;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Export;

/// <summary>The FHIR destination against a real HTTP server on loopback: authentication, 503 retries, permanent refusals.</summary>
public sealed class FhirExportTests
{
    [Fact]
    public async Task The_bundle_is_posted_with_the_bearer_token_and_503s_are_retried_until_accepted()
    {
        await using var fhir = await FhirTestEndpoint.StartAsync("Bearer s3cret-token", 503, 503);
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), ExportTestKit.UseTestProducers,
        [
            .. ExportTestKit.FastRetries(5),
            "--MedVision:Export:Destinations:0:Name=ehr",
            "--MedVision:Export:Destinations:0:Type=fhir",
            $"--MedVision:Export:Destinations:0:Url={fhir.Url}",
            "--MedVision:Export:Destinations:0:BearerToken=s3cret-token",
        ]);

        var study = await ExportTestKit.SendStudyAsync(appliance);
        var outputs = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "delivered");

        // Only the Bundle goes to a fhir destination by default; the DICOM output has no delivery.
        var bundle = outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "fhir-bundle");
        var delivery = Assert.Single(bundle.GetProperty("deliveries").EnumerateArray());
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Empty(outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "secondary-capture").GetProperty("deliveries").EnumerateArray());

        var requests = fhir.Requests.ToList();
        Assert.Equal([503, 503, 200], requests.Select(r => r.Status));
        Assert.All(requests, r => Assert.StartsWith("application/fhir+json", r.ContentType, StringComparison.Ordinal));
        using var posted = JsonDocument.Parse(requests[^1].Body);
        Assert.Equal("Bundle", posted.RootElement.GetProperty("resourceType").GetString());
        Assert.Equal("transaction", posted.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_400_is_dead_at_once_with_the_OperationOutcome_text_and_wrong_credentials_are_refused()
    {
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("edge:pa55"));
        await using var fhir = await FhirTestEndpoint.StartAsync(basic, 400);
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), ExportTestKit.UseTestProducers,
        [
            .. ExportTestKit.FastRetries(5),
            "--MedVision:Export:InAttemptRetries=2",
            "--MedVision:Export:Destinations:0:Name=ehr",
            "--MedVision:Export:Destinations:0:Type=fhir",
            $"--MedVision:Export:Destinations:0:Url={fhir.Url}",
            "--MedVision:Export:Destinations:0:Username=edge",
            "--MedVision:Export:Destinations:0:Password=pa55",
            "--MedVision:Export:Destinations:1:Name=ehr-wrong",
            "--MedVision:Export:Destinations:1:Type=fhir",
            $"--MedVision:Export:Destinations:1:Url={fhir.Url}",
            "--MedVision:Export:Destinations:1:Username=edge",
            "--MedVision:Export:Destinations:1:Password=wrong",
        ]);

        var study = await ExportTestKit.SendStudyAsync(appliance);
        var outputs = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "dead");
        var deliveries = ExportTestKit.Deliveries(outputs).ToDictionary(d => d.GetProperty("destination").GetString()!);
        Assert.Equal(1, deliveries["ehr"].GetProperty("attempts").GetInt32());
        Assert.Contains("HTTP 400", deliveries["ehr"].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Contains("DiagnosticReport.subject is required", deliveries["ehr"].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, deliveries["ehr-wrong"].GetProperty("attempts").GetInt32());
        Assert.Contains("Missing or wrong credentials", deliveries["ehr-wrong"].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        // A permanent refusal is not retried inside the attempt either.
        Assert.Equal(2, fhir.Requests.Count);
    }

    [Fact]
    public void Invalid_destinations_are_refused_at_start_with_every_error()
    {
        var options = new ExportOptions
        {
            MaxAttempts = 0,
            Destinations =
            [
                new ExportDestinationOptions { Type = "dicom", Port = 0, CalledAe = "" },
                new ExportDestinationOptions { Type = "fhir", Url = "ftp://x", Kinds = ["sr", "video"] },
                new ExportDestinationOptions { Type = "folder" },
                new ExportDestinationOptions { Type = "dicom", Host = "pacs", CalledAe = "PACS" },
                new ExportDestinationOptions { Type = "s3" },
            ],
        };
        var result = new ExportOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        var text = result.FailureMessage;
        Assert.Contains("MedVision:Export:MaxAttempts must be 1-1000", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:0:Host is required", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:0:Port must be 1-65535", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:0:CalledAe", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:1:Url must be an absolute http(s) URL", text, StringComparison.Ordinal);
        Assert.Contains("unknown kind 'video'", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:2:Path is required", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:3: destination name 'dicom' is used twice", text, StringComparison.Ordinal);
        Assert.Contains("Destinations:4:Type must be dicom, fhir or folder", text, StringComparison.Ordinal);

        Assert.True(new ExportDestinationOptions { Type = "dicom" }.Accepts("sr"));
        Assert.False(new ExportDestinationOptions { Type = "dicom" }.Accepts("fhir-bundle"));
        Assert.True(new ExportDestinationOptions { Type = "folder" }.Accepts("report-html"));
        Assert.False(new ExportDestinationOptions { Type = "folder", Kinds = ["sr"] }.Accepts("report-html"));
    }

    [Fact]
    public void OperationOutcome_text_is_what_the_error_shows()
    {
        Assert.Equal("OperationOutcome error invalid: bad; warning processing: details",
            FhirExportDestination.Describe("""{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"bad"},{"severity":"warning","code":"processing","details":{"text":"details"}}]}"""));
        Assert.Equal("<html>oops</html>", FhirExportDestination.Describe("<html>oops</html>"));
        Assert.Equal("(empty body)", FhirExportDestination.Describe(""));
    }
}
