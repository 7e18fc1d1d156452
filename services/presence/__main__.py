from services.presence.app import main

main()
