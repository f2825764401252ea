using MedVision.Edge;

await EdgeApp.Build(args).RunAsync();
