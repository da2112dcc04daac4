namespace FlowGuide.Cli;

/// <summary>
/// One <c>flowguide</c> command. <see cref="Name"/> may have several words ("train vae", "flow eval"); the dispatcher
/// picks the longest name that matches the start of the command line.
/// </summary>
public abstract class Command
{
    public abstract string Name { get; }

    /// <summary>One line for the command list.</summary>
    public abstract string Summary { get; }

    /// <summary>Full usage text for <c>flowguide help NAME</c>.</summary>
    public abstract string Usage { get; }

    /// <summary>Options that take no value.</summary>
    public virtual IReadOnlySet<string> Flags => new HashSet<string>();

    /// <summary>Runs the command; returns the process exit code. Throw <see cref="UsageException"/> for bad arguments.</summary>
    public abstract int Run(Args args, TextWriter output, CancellationToken cancel);
}
