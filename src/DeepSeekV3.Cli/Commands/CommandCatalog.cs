using System.CommandLine;

namespace DeepSeekV3.Cli.Commands;

/// <summary>Every dsv3 sub-command, in the order `dsv3 --help` lists them.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return InitCommand.Create();
        yield return InfoCommand.Create();
        yield return LogitsCommand.Create();
        yield return GenerateCommand.Create();
        yield return TrainCommand.Create();
        yield return PlotCommand.Create();
    }
}
