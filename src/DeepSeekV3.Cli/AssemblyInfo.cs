[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DeepSeekV3.Tests")]
