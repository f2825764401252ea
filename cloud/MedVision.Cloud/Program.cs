// The central hub: `dotnet run --project cloud/MedVision.Cloud` starts it on embedded defaults (MQTT 1883, HTTP 8090).
await MedVision.Cloud.HubApp.Build(args).RunAsync();
