using System.CommandLine;
using DeepSeekV3.Cli.Commands;

// dsv3: a thin command line over the DeepSeekV3 library. Each command lives in Commands/ and only parses
// arguments, calls the library and prints.
var root = new RootCommand("DeepSeekV3.NET: DeepSeek-V3 models in C# (MLA, DeepSeekMoE, MTP, FP8 checkpoints)");
foreach (Command command in CommandCatalog.All())
    root.Subcommands.Add(command);
// The default handler would print a stack trace for every exception; CliErrors prints typed errors in one line.
return CliErrors.Run(() => root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
