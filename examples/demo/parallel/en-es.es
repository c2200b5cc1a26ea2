Normalmente tomo una taza de café antes del trabajo.
Mi hermana vive en un piso pequeño cerca del río.
Los niños están jugando en el jardín.
¿Podrías cerrar la ventana, por favor?
Vamos al mercado el sábado por la mañana.
El pan de esta panadería siempre está fresco.
Otra vez se olvidó las llaves en la oficina.
Empezó a llover cuando salimos de casa.
Mi abuela cuenta historias maravillosas de su infancia.
La tienda cierra a las ocho de la tarde.
Tengo que comprar leche, huevos y unas manzanas.
Nuestros vecinos tienen un perro muy simpático.
Ella lee el periódico todas las mañanas en el tren.
La sopa está demasiado caliente para comerla ahora.
Compraron un sofá nuevo para el salón.
No encuentro mis gafas por ningún lado.
El bebé por fin se durmió después de la medianoche.
Anoche cenamos con nuestros amigos.
Por favor, apaga las luces cuando salgas.
La lavadora está rota y hace un ruido extraño.
Mi hermano está aprendiendo a tocar la guitarra.
El gato duerme en el alféizar caliente.
Pintamos las paredes de la cocina de azul claro.
¿Quieres té o zumo con el desayuno?
La oficina de correos está al lado de la farmacia.
Te llamaré en cuanto llegue a casa.
Sus padres celebraron su cuadragésimo aniversario de boda.
El autobús llegó tarde por el tráfico intenso.
Siempre lleva sombrero cuando va a pescar.
Hay demasiados libros en esta estantería pequeña.
Normalmente pasamos las fiestas con mis padres.
La leche de la nevera se ha cortado.
Mi hija quiere ser veterinaria.
Esta mañana me dejé el paraguas en el autobús.
El restaurante de la esquina sirve un pescado excelente.
Nuestro piso recibe mucha luz por la tarde.
Ella hizo una tarta de chocolate para su cumpleaños.
El ascensor de nuestro edificio no funciona.
Cuando hace buen tiempo prefiero ir andando al trabajo.
La profesora pidió a los alumnos que abrieran sus libros.
En primavera plantamos tomates y judías.
Esta noche él cocina pasta para toda la familia.
Las toallas están en el armario debajo del lavabo.
Todavía no he visto esa película.
El teléfono sonó mientras estaba en la ducha.
Mi padre arregla bicicletas viejas en su tiempo libre.
Las sillas nuevas son más cómodas que las viejas.
¿Me ayudas a subir estas cajas?
Las calles estaban tranquilas el domingo por la mañana temprano.
Ella guarda sus recetas en un cuaderno viejo.
El ayuntamiento aprobó un plan para construir más carriles bici.
Las fuertes nevadas cerraron varias carreteras de montaña durante la noche.
La empresa prevé contratar a doscientos trabajadores nuevos el año que viene.
Los precios de la fruta y la verdura subieron mucho este mes.
El museo abrirá una nueva exposición de pintura moderna.
Los bomberos apagaron un incendio en un almacén antiguo cerca del puerto.
La panadería de la calle Mayor ha cerrado después de cincuenta años.
Los agricultores esperan una buena cosecha tras un verano cálido y húmedo.
El banco subió sus tipos de interés por segunda vez este año.
Un puente nuevo unirá las dos partes de la ciudad.
La biblioteca ahora presta herramientas además de libros.
Miles de personas asistieron al festival de música en el parque.
La fábrica reducirá su consumo de agua en un tercio.
Los fuertes vientos dañaron tejados y derribaron árboles.
El antiguo cine volverá a abrir tras una larga reforma.
Los alquileres en el centro de la ciudad se han duplicado en diez años.
Tras varios días de lluvia, el río inundó varios campos.
Una escritora local ganó un premio por su primera novela.
La cadena de supermercados dejará de vender bolsas de plástico.
El paro bajó ligeramente en los últimos tres meses.
La orquesta dio un concierto gratuito en la plaza mayor.
La policía busca testigos del accidente.
El precio del pan ha subido diez céntimos.
Muchas tiendas abrirán hasta tarde antes de las fiestas.
El zoo recibió a dos crías de elefante esta primavera.
Un apagón dejó sin electricidad a miles de hogares.
El pueblo es famoso por su queso y su vino.
Los trabajadores del puerto se declararon en huelga para pedir salarios más altos.
El tiempo será soleado y seco el resto de la semana.
Un joven cocinero abrió un pequeño restaurante en el casco antiguo.
El teatro agotó las entradas de todas las funciones esta temporada.
La empresa anunció beneficios más altos que el año pasado.
Unos voluntarios limpiaron la playa el domingo por la mañana.
El parque nuevo tiene un parque infantil y un pequeño lago.
Las temperaturas bajaron de cero por primera vez este invierno.
El mercado vende miel, queso y flores de la zona.
La fiesta celebra el final de la cosecha.
Un cantante famoso actuará en nuestra ciudad el mes que viene.
La fábrica cerró y muchas familias se marcharon.
La iglesia histórica necesita un tejado nuevo.
Los pequeños negocios pasaron apuros durante el largo invierno.
La niebla era tan espesa que el ferry se quedó en el puerto.
En el desván de una casa se encontró un mapa antiguo de la ciudad.
La librería organiza lecturas para niños todos los viernes.
Los pescadores dicen que cada año hay menos peces en la bahía.
El alcalde inauguró el nuevo mercado cubierto el martes.
Las ventas de bicicletas eléctricas crecieron rápidamente el año pasado.
El verano seco dejó el lago en su nivel más bajo en décadas.
En la antigua estación de tren se celebró un desfile de moda.
La ciudad plantará mil árboles a lo largo de sus calles principales.
Llevo esperando al fontanero desde las nueve.
Nuestra reunión se ha cambiado al jueves por la tarde.
Trabaja de enfermera por la noche y estudia durante el día.
La impresora de la segunda planta no tiene papel.
Mi jefe me pidió que terminara el informe antes del viernes.
Lleva veinte años trabajando en la misma empresa.
La nueva compañera habla cuatro idiomas.
Necesitamos más sillas para la sala de reuniones.
Lo siento, pero no puedo ir a tu fiesta.
La dependienta me ayudó a encontrar una chaqueta de abrigo.
Estos zapatos me quedan pequeños.
¿Cuánto cuesta esta camisa azul?
El agricultor vende sus verduras directamente a los clientes.
Nuestra profesora nos puso muchos deberes para el fin de semana.
Los alumnos están preparando una obra de teatro para final de curso.
Mi hijo aprendió a montar en bicicleta el verano pasado.
El examen fue más fácil de lo que esperaba.
Ella escribe cartas a su amiga de otro país.
La biblioteca del colegio abre hasta las cinco.
Le pedí prestado un diccionario a mi compañero de clase.
Habla despacio para que todos lo entiendan.
El carpintero hizo una mesa de madera preciosa.
Quisiera abrir una cuenta bancaria.
El camarero nos trajo la cuenta sin preguntar.
Buscan una casa más grande con jardín.
La reunión duró mucho más de lo previsto.
Mi tío tiene una tienda pequeña que vende relojes antiguos.
La oficina estará cerrada el lunes por limpieza.
Me mandó una foto de su gatito nuevo.
Tenemos que salir temprano para evitar el tráfico.
El pintor necesita tres días para terminar el pasillo.
Mis amigos y yo jugamos a las cartas todos los miércoles por la noche.
Se disculpó por llegar tan tarde.
Mañana te envío los documentos por correo electrónico.
La cocina huele a pan recién hecho y a canela.
Nuestro casero prometió arreglar la calefacción esta semana.
Aprendió a tejer con su tía.
Los niños hicieron un muñeco de nieve delante de la casa.
Suelo acostarme sobre las once.
La peluquera me cortó el pelo demasiado corto.
Al final de nuestra calle hay una cafetería pequeña.
Mi madre cultiva hierbas en el balcón.
Por favor, escribe tu nombre en la parte de arriba de la página.
Los vecinos se quejaron de la música alta.
Se nos acabó el azúcar, así que fui a la tienda.
Pasa las tardes leyendo novelas policiacas.
Llamaron de la consulta del dentista para cambiar mi cita.
Nuestra hija hizo un dibujo de toda la familia.
La caja pesaba más de lo que parecía.
Estoy aprendiendo español porque quiero vivir en México.
En otoño las hojas se vuelven rojas y amarillas.
Un pajarito hizo su nido encima de nuestra puerta.
El lago se congela todos los inviernos.
Vimos la puesta de sol desde lo alto de la colina.
El viento sopló del norte todo el día.
Anoche había cientos de estrellas en el cielo.
Las rosas de su jardín huelen de maravilla.
Aquí no llueve desde hace más de un mes.
El bosque detrás del pueblo está lleno de setas.
La tormenta despertó a todos en mitad de la noche.
Me alegro de que hayas venido a visitarnos.
Estaba nervioso antes de su primer día en el nuevo trabajo.
Se sorprendió al ver a tanta gente en la puerta.
Estamos orgullosos de nuestro hijo.
Estaba cansado, así que me quedé en casa.
¿Por qué te ríes?
¿A qué hora empieza la película?
¿Dónde has puesto las tijeras?
¿Cuánto tiempo llevas viviendo en esta ciudad?
¿Quién es la mujer del abrigo rojo?
¿Qué autobús va al centro de la ciudad?
¿Hay alguna panadería cerca de aquí?
¿Alguna vez has comido pulpo?
¿Puedo pagar con tarjeta?
¿Quieres otro trozo de tarta?
El río atraviesa el centro de la ciudad.
Un viento frío bajó de las montañas.
El jardín está precioso después de la lluvia.
Los días son cada vez más cortos y fríos.
Un zorro cruzó la carretera delante de nuestro coche.
En abril los manzanos están llenos de flores.
Desde la ventana de mi dormitorio oigo el mar.
Mi abuelo fue pescador toda su vida.
La lámpara de mi escritorio es muy vieja.
Siempre se olvida de dónde ha aparcado el coche.
Nos conocemos desde la escuela primaria.
Mi prima se casó en una pequeña iglesia junto al mar.
Los invitados llegaron una hora antes.
Le dio su ropa vieja a su hermano pequeño.
No me gusta madrugar los fines de semana.
El perro ladra cada vez que alguien llama al timbre.
Nuestro coche necesita neumáticos nuevos antes del invierno.
La luna brillaba mucho sobre los campos.
El anciano da de comer a las palomas en la plaza todos los días.
Mi estación favorita es la primavera.
El camino junto al río es bueno para pasear.
Ella canta mientras cocina.
Nos perdimos en la parte antigua de la ciudad.
Encontré una foto antigua de mis padres en un cajón.
La puerta del jardín no cierra bien.
El Gobierno anunció un nuevo programa de ayuda a los jóvenes agricultores.
Los precios del café alcanzaron su nivel más alto en cinco años.
El fabricante de coches construirá una nueva fábrica en el norte.
Este año las clases empezarán una semana más tarde.
La universidad inauguró una nueva biblioteca con espacio para mil estudiantes.
Cada vez más familias deciden vivir fuera de las grandes ciudades.
El precio de la gasolina bajó por tercera semana consecutiva.
Un incendio destruyó parte del bosque antiguo el verano pasado.
Los comerciantes pidieron al ayuntamiento más plazas de aparcamiento.
Muchos jóvenes abandonan los pueblos para buscar trabajo.
La empresa pagará a sus trabajadores una paga extra a final de año.
El precio de las casas cerca de la costa sigue subiendo.
Un grupo de artistas pintó un enorme mural en la pared del colegio.
El festival de cine proyectará más de cien películas.
La nueva ley obliga a las tiendas a reciclar sus envases.
El número de turistas en la región bajó después de las inundaciones.
Dos bancos pequeños acordaron fusionarse la próxima primavera.
La ciudad quiere reducir el número de coches en el centro.
La panadería ganó un premio al mejor pan del país.
La antigua fábrica se ha convertido en pisos y oficinas.
Se espera una ola de calor en el sur la semana que viene.
Los ganaderos dicen que el precio de la leche es demasiado bajo.
A partir de ahora, la biblioteca municipal abrirá los domingos.
Una tormenta hundió tres barcos pesqueros en el puerto.
La empresa de ropa cerrará la mitad de sus tiendas.
La vendimia fue más pequeña de lo habitual este año.
Los profesores quieren clases más pequeñas y más apoyo.
El coro infantil cantó en la inauguración de la nueva sala.
Un cuadro poco común se vendió por dos millones de euros.
La población del pueblo ha crecido un diez por ciento.
La tienda de muebles ofrece envío gratuito este mes.
Decenas de voluntarios ayudaron a reparar las casas dañadas.
La empresa de juguetes lanzará un nuevo juego de mesa en otoño.
La orquesta busca un nuevo director.
El mercado de flores atrae a visitantes de toda la región.
Los obreros terminaron el nuevo edificio escolar antes de lo previsto.
El restaurante más antiguo de la ciudad celebró su centenario.
Una huelga de autobuses provocó largas colas en las paradas.
El agua del río está más limpia que hace diez años.
La fábrica de zapatos lleva décadas exportando sus productos.
La plaza del mercado estará cerrada al tráfico durante las fiestas.
La escritora dedicó tres años a su nuevo libro.
La cooperativa de agricultores abrió una tienda en el centro del pueblo.
La radio local retransmitirá el concierto en directo.
El invierno fue suave y muchas aves no volaron al sur.
El precio de la mantequilla ha subido una quinta parte desde la primavera.
Una nueva línea de ferry unirá las dos islas.
El reloj del ayuntamiento ha dejado de funcionar.
La fábrica de chocolate ofrece visitas para grupos escolares.
Unos obreros encontraron monedas antiguas mientras excavaban bajo la plaza.
Le he echado demasiada sal a la salsa.
Los viernes comemos pescado.
Corta las cebollas en trozos pequeños.
El arroz tarda veinte minutos en hacerse.
Mi plato favorito es la sopa de verduras de mi madre.
Él toma el té sin azúcar.
Las fresas del mercado estaban muy dulces.
Pedimos pizza porque nadie quería cocinar.
El queso sabe mejor con una copa de vino tinto.
No te olvides de regar las plantas mientras estoy fuera.
Mi afición es hacer fotos de edificios antiguos.
Ella colecciona sellos de todo el mundo.
Los días de lluvia jugamos a juegos de mesa en casa.
Lleva muchos años pintando paisajes.
Mi tía se cose toda su ropa.
Los chicos pasaron toda la tarde construyendo una casa en el árbol.
Escucho la radio mientras limpio la casa.
El rompecabezas tiene mil piezas.
Nos sentamos junto al fuego y contamos historias.
La llave del sótano cuelga detrás de la puerta.
Las cortinas del dormitorio son demasiado finas.
Nuestra casa es la tercera a la izquierda.
El grifo del baño gotea toda la noche.
Guardo la ropa de invierno en el desván.
Los hijos de los vecinos vienen a menudo a jugar con los nuestros.
Perdió la cartera, pero una mujer honrada se la devolvió.
El reloj del pasillo va cinco minutos adelantado.
Mi amiga me prestó su coche para el fin de semana.
Las peras todavía no están maduras.
El abuelo duerme en su sillón después de comer.
Invitamos a todos nuestros vecinos a la fiesta en el jardín.
La carta llegó dos semanas después de que ella la enviara.
Hice una lista para no olvidarme de nada.
A la sopa le falta un poco más de pimienta.
Envolvió el regalo en papel rojo.
El año pasado se mudaron a una casa en el campo.
La puerta chirría cada vez que la abres.
Me gusta el olor del mar por la mañana.
El niño pequeño tenía miedo a la oscuridad.
Necesitamos una mesa más grande para todos los invitados.
Se rió tanto que empezó a llorar.
Mi vecino toca el piano todas las tardes.
La botella de aceite de oliva se cayó de la estantería.
Escribió un poema corto para su mujer.
Nuestros nietos nos visitan todos los veranos.
La cafetera del trabajo hace un café horrible.
Creo que esta noche va a nevar.
Hablaron por teléfono durante dos horas.
La manta es suave y calentita.
Después de cenar fregamos los platos juntos.
