from services.persistence.app import main

main()
