namespace FlowGuide.Cli.Tests;

/// <summary>Runs the CLI in-process and captures what it writes.</summary>
internal static class CliRun
{
    public static (int Code, string Out, string Err) Run(params string[] argv)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = FlowGuide.Cli.Cli.Run(argv, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
