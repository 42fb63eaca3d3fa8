return DeepSeekV3.Cli.CliApp.Run(args);
