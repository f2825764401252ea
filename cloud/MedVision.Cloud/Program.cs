// The central hub. For now it only reports that it runs; the MQTT sync issue builds the fleet services here.
var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls(builder.Configuration["MedVision:Http:Urls"] ?? "http://0.0.0.0:8090");
}
var app = builder.Build();
var started = DateTimeOffset.UtcNow;
app.MapGet("/healthz", () => Results.Ok(new { status = "ok", service = "medvision-cloud", uptimeSeconds = (DateTimeOffset.UtcNow - started).TotalSeconds }));
app.Run();
