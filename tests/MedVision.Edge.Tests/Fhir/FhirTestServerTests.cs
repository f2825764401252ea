// Firely's model marks every element nullable; a missing one fails these assertions with an exception anyway.
#nullable disable warnings
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using MedVision.Edge.Tests.Reports;
using MedVision.Testing;
using Task = System.Threading.Tasks.Task;

namespace MedVision.Edge.Tests.Fhir;

[Collection(FhirCollection.Name)]
public sealed class FhirTestServerTests(FhirR4Validator validator, ReportTestData data) : IClassFixture<ReportTestData>
{
    private static readonly JsonSerializerOptions Json = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);

    private async Task<byte[]> BundleAsync() =>
        Assert.Single(await FhirBundleTests.Producer().ProduceAsync(data.Results(prior: ReportTestData.Prior("1.2.3.9")), CancellationToken.None)).Content;

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, FhirTestServer server, byte[] body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Produced_bundle_is_accepted_and_resending_it_duplicates_nothing()
    {
        await using var server = await FhirTestServer.StartAsync(new FhirTestServerOptions { Validator = validator });
        using var client = new HttpClient();
        var body = await BundleAsync();

        using var first = await PostAsync(client, server, body);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var response = JsonSerializer.Deserialize<Bundle>(await first.Content.ReadAsStringAsync(), Json)!;
        Assert.Equal(Bundle.BundleType.TransactionResponse, response.Type);
        Assert.All(response.Entry, e => Assert.Equal("201 Created", e.Response.Status));
        var received = await server.WaitForBundleAsync(0, TimeSpan.FromSeconds(5));
        Assert.True(received.IsValid, string.Join("\n", received.Validation.Errors));
        Assert.Equal(4, server.StoredResources.Count);
        var stored = server.StoredResources.OfType<DiagnosticReport>().Single();
        Assert.Equal(["Observation/2", "Observation/3"], stored.Result.Select(r => r.Reference));
        Assert.Equal("ImagingStudy/1", stored.ImagingStudy[0].Reference);
        Assert.All(server.StoredResources.OfType<Observation>(), o => Assert.Equal("ImagingStudy/1", o.DerivedFrom[0].Reference));

        using var second = await PostAsync(client, server, body);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        response = JsonSerializer.Deserialize<Bundle>(await second.Content.ReadAsStringAsync(), Json)!;
        Assert.All(response.Entry, e => Assert.Equal("200 OK", e.Response.Status));
        Assert.Equal(4, server.StoredResources.Count);
        Assert.Equal(["Observation/2", "Observation/3"], server.StoredResources.OfType<DiagnosticReport>().Single().Result.Select(r => r.Reference));
        Assert.Equal(2, server.ReceivedBundles.Count);
        Assert.Equal(["ImagingStudy/1/_history/1", "Observation/2/_history/2", "Observation/3/_history/2", "DiagnosticReport/4/_history/2"],
            response.Entry.Select(e => e.Response.Location));

        var search = await client.GetStringAsync($"{server.BaseUrl}/DiagnosticReport?identifier=urn:medvision:edge:ai-report|{data.StudyUid}");
        var found = JsonSerializer.Deserialize<Bundle>(search, Json)!;
        Assert.Equal(1, found.Total);
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Preliminary, ((DiagnosticReport)found.Entry[0].Resource).Status);
    }

    [Fact]
    public async Task Bearer_token_is_required_when_configured()
    {
        await using var server = await FhirTestServer.StartAsync(new FhirTestServerOptions { Validator = validator, RequiredBearerToken = "s3cret" });
        using var client = new HttpClient();
        var body = await BundleAsync();

        using var without = await PostAsync(client, server, body);
        using var wrong = await PostAsync(client, server, body, "guess");
        using var right = await PostAsync(client, server, body, "s3cret");

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.OK), (without.StatusCode, wrong.StatusCode, right.StatusCode));
        Assert.Equal([401, 401, 200], server.Requests.Select(r => r.StatusCode));
        Assert.Equal("Bearer s3cret", server.Requests[2].Authorization);
        Assert.Single(server.ReceivedBundles);
    }

    [Fact]
    public async Task Fails_the_next_requests_on_demand_then_accepts()
    {
        await using var server = await FhirTestServer.StartAsync(new FhirTestServerOptions { Validator = validator });
        using var client = new HttpClient();
        var body = await BundleAsync();
        server.FailNextRequests(2);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await PostAsync(client, server, body);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK], statuses);
        Assert.Single(server.ReceivedBundles);
    }

    [Fact]
    public async Task Invalid_or_unparsable_bundles_are_refused_with_an_operation_outcome()
    {
        await using var server = await FhirTestServer.StartAsync(new FhirTestServerOptions { Validator = validator });
        using var client = new HttpClient();
        // Parses, but an Observation without its required status and code breaks the R4 profile.
        const string invalid = """{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0f2d4c53-5d0e-4d1c-9c43-0a0e7c4b8e11","resource":{"resourceType":"Observation","valueString":"x"},"request":{"method":"POST","url":"Observation"}}]}""";

        using var rejected = await PostAsync(client, server, System.Text.Encoding.UTF8.GetBytes(invalid));
        using var garbage = await PostAsync(client, server, "{\"resourceType\":\"Bundle\",\"type\":"u8.ToArray());

        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        var outcome = JsonSerializer.Deserialize<OperationOutcome>(await rejected.Content.ReadAsStringAsync(), Json)!;
        Assert.Contains(outcome.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
        var received = Assert.Single(server.ReceivedBundles);
        Assert.False(received.IsValid);
        Assert.Contains(received.Validation.Errors, e => e.Contains("status", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Empty(server.StoredResources);
    }
}
