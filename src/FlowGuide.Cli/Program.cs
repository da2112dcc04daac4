using FlowGuide.Cli;

// flowguide COMMAND [options] — see `flowguide help`.
var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return Cli.Run(args, Console.Out, Console.Error, cancel.Token);
