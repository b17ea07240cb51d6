using Shim.Cli.Hosting;

return await ShimApplication.RunAsync(args);
