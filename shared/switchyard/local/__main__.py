from switchyard.local.runtime import main

main()
