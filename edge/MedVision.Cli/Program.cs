using System.CommandLine;
using MedVision.Cli.Commands;

var root = new RootCommand("medvision: DICOM tools of the MedVision Edge appliance");
NetworkCommands.AddTo(root);
FileCommands.AddTo(root);
EvalCommand.AddTo(root);
return await root.Parse(args).InvokeAsync();
