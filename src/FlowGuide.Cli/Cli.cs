using System.Globalization;

namespace FlowGuide.Cli;

/// <summary>
/// The dispatcher: finds the command, parses its options, and turns every error a user can cause into one line on
/// stderr and a non-zero exit code (2 for usage mistakes, 1 for failures, 130 for Ctrl-C).
/// </summary>
public static class Cli
{
    /// <summary>Every command. Add new commands here (one file each under Commands/).</summary>
    public static IReadOnlyList<Command> Commands { get; } = new Command[]
    {
        new InfoCommand(),
        new FlowCommand(),
        new FlowEvalCommand(),
        new TrainFlowCommand(),
        new GenerateCommand(),
        new TransferCommand(),
        new TrainVaeCommand(),
        new VaeEvalCommand(),
        new TrainDitCommand(),
        new TrainClassifierCommand(),
        new ModelConvertCommand(),
        new ModelProbeCommand(),
        new PromptsCommand(),
        new EvalCommand(),
        new ReportCommand(),
        new TrainDiscriminatorCommand(),
        new ExperimentFlowLossCommand(),
    };

    public static int Run(string[] argv, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (argv.Length == 0 || argv[0] is "help" or "--help" or "-h")
        {
            var topic = argv.Skip(1).ToArray();
            if (topic.Length > 0 && Find(topic, out _) is { } cmd) { output.WriteLine(cmd.Usage); return 0; }
            PrintCommands(output);
            return argv.Length == 0 ? 2 : 0;
        }
        var command = Find(argv, out int words);
        if (command is null)
        {
            error.WriteLine($"flowguide: unknown command '{string.Join(' ', argv.TakeWhile(a => !a.StartsWith('-')).Take(2))}' (run 'flowguide help')");
            return 2;
        }
        try
        {
            var args = new Args(argv.Skip(words), command.Flags);
            if (args.Flag("help")) { output.WriteLine(command.Usage); return 0; }
            return command.Run(args, output, cancel);
        }
        catch (UsageException ex)
        {
            error.WriteLine($"flowguide {command.Name}: {ex.Message} (see 'flowguide help {command.Name}')");
            return 2;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine($"flowguide {command.Name}: cancelled");
            return 130;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidDataException or FormatException
                                   or UnauthorizedAccessException or NotSupportedException or InvalidOperationException)
        {
            error.WriteLine($"flowguide {command.Name}: {OneLine(ex.Message)}");
            return 1;
        }
    }

    private static Command? Find(IReadOnlyList<string> argv, out int words)
    {
        Command? best = null;
        words = 0;
        foreach (var c in Commands)
        {
            var parts = c.Name.Split(' ');
            if (parts.Length > argv.Count || parts.Length <= words) continue;
            bool match = true;
            for (int i = 0; i < parts.Length && match; i++) match = argv[i] == parts[i];
            if (match) { best = c; words = parts.Length; }
        }
        return best;
    }

    private static void PrintCommands(TextWriter output)
    {
        output.WriteLine("usage: flowguide COMMAND [options]   (flowguide help COMMAND for details)");
        output.WriteLine();
        foreach (var c in Commands.OrderBy(c => c.Name, StringComparer.Ordinal))
            output.WriteLine($"  {c.Name,-18} {c.Summary}");
    }

    internal static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
