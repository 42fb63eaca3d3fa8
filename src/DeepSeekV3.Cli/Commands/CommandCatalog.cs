using System.CommandLine;

namespace DeepSeekV3.Cli.Commands;

/// <summary>Every dsv3 sub-command, in the order `dsv3 --help` lists them.</summary>
internal static class CommandCatalog
{
    /// <param name="input">Where interactive commands (chat) read lines from.</param>
    public static IEnumerable<Command> All(TextReader input)
    {
        yield return InitCommand.Create();
        yield return InfoCommand.Create();
        yield return ConvertCommand.Create();
        yield return LogitsCommand.Create();
        yield return GenerateCommand.Create();
        yield return ChatCommand.Create(input);
        yield return ServeCommand.Create();
        yield return TokenizeCommand.Create();
        yield return DetokenizeCommand.Create();
        yield return TrainTokenizerCommand.Create();
        yield return TrainCommand.Create();
        yield return SftCommand.Create();
        yield return GrpoCommand.Create();
        yield return MtpTuneCommand.Create();
        yield return DistillCommand.Create();
        yield return EvalCommand.Create();
        yield return ExportGgufCommand.Create();
        yield return PlotCommand.Create();
        yield return MpiCheckCommand.Create();
        yield return EpCheckCommand.Create();
        yield return EplbCommand.Create();
        yield return ScheduleCommand.Create();
        yield return PlanCommand.Create();
    }
}
